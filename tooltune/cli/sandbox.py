"""`tooltune sandbox ...`: inspect the apps, users and cases; export gold trajectories."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Inspect the sandbox world: tools, users, cases; export SFT data.", no_args_is_help=True)


@app.command("list-tools")
def list_tools(
    as_json: bool = typer.Option(False, "--json", help="Print the OpenAI tool schemas as JSON."),
    app_name: str = typer.Option("", "--app", help="Only the tools of this app."),
) -> None:
    """List the sandbox tools (app, name, description), retrieval tools included."""
    from tooltune.sandbox.retrieval import retrieval_tools
    from tooltune.sandbox.tools import all_tools

    tools = [t for t in all_tools() + retrieval_tools() if not app_name or t.app == app_name]
    if as_json:
        typer.echo(json.dumps([t.schema for t in tools], indent=2))
        return
    for t in tools:
        typer.echo(f"{t.app:<11} {t.name:<48} {t.description}")
    typer.echo(f"{len(tools)} tools")


@app.command("show-user")
def show_user(
    name: str = typer.Argument(..., help="User id (maya_chen) or name (\"Maya Chen\")."),
    as_json: bool = typer.Option(False, "--json", help="Print the raw profile as JSON."),
) -> None:
    """Show a user's persona and per-app preferences."""
    from tooltune.sandbox.prompts import render_profile
    from tooltune.sandbox.users import get_user

    try:
        user = get_user(name)
    except KeyError as error:
        raise typer.BadParameter(str(error.args[0]), param_hint="NAME") from None
    if as_json:
        typer.echo(json.dumps({"id": user.id, "name": user.name, "persona": user.persona,
                               "preferences": user.preferences, "facts": user.facts}, indent=2, ensure_ascii=False))
    else:
        typer.echo(render_profile(user))


@app.command("list-cases")
def list_cases(
    user: str = typer.Option("", help="Only this user's cases."),
    app_name: str = typer.Option("", "--app", help="Only cases whose main app is this one."),
    instructions: bool = typer.Option(False, "--instructions", help="List instructions (with key points) instead."),
) -> None:
    """List case ids with their queries (or the instructions and their key points)."""
    from tooltune.sandbox.tasks import load_cases, load_instructions
    from tooltune.sandbox.users import get_user

    if user and not instructions:
        try:
            user = get_user(user).id
        except KeyError as error:
            raise typer.BadParameter(str(error.args[0]), param_hint="--user") from None
    known_apps = sorted({ins.apps[0] for ins in load_instructions()})
    if app_name and app_name not in known_apps:
        raise typer.BadParameter(f"no app {app_name!r}; known apps: {known_apps}", param_hint="--app")
    if instructions:
        for ins in load_instructions():
            if app_name and ins.apps[0] != app_name:
                continue
            typer.echo(f"{ins.id}  [{', '.join(ins.apps)}]  {ins.query}")
            for kp in ins.keypoints:
                typer.echo(f"    {kp.id} {kp.kind:<9} {'check' if kp.check else 'judge'}  {kp.text}")
        return
    shown = 0
    for case in load_cases():
        if (user and case.user.id != user) or (app_name and case.instruction.apps[0] != app_name):
            continue
        typer.echo(f"{case.id}\t{case.instruction.query}")
        shown += 1
    typer.echo(f"{shown} cases")


@app.command("export-sft")
def export_sft_command(
    out: Path = typer.Argument(..., help="Output JSONL file."),
    split: str = typer.Option("all", help="all, train or test."),
    by: str = typer.Option("user", help="Hold out whole users or whole instructions: user | instruction."),
    test_fraction: float = typer.Option(0.25, help="Share of users/instructions held out for test."),
    seed: int = typer.Option(0, help="Seed of the held-out choice."),
    apps: str = typer.Option("", help="Comma-separated apps: only cases whose main app is one of them."),
    no_profile: bool = typer.Option(False, "--no-profile", help="Leave the user profile out of the system prompt."),
) -> None:
    """Export gold trajectories as SFT data: JSONL of {"id", "messages", "tools"}."""
    from tqdm import tqdm

    from tooltune.sandbox.export import export_sft
    from tooltune.sandbox.tasks import load_cases

    app_list = [a.strip() for a in apps.split(",") if a.strip()] or None
    try:
        count = export_sft(out, load_cases(), split, by=by, test_fraction=test_fraction, seed=seed,  # type: ignore[arg-type]
                           apps=app_list, include_profile=not no_profile,
                           progress=lambda cases: tqdm(cases, desc="gold episodes", unit="case"))
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    except OSError as error:
        raise typer.BadParameter(f"cannot write {out}: {error.strerror or error}", param_hint="OUT") from None
    typer.echo(f"wrote {count} trajectories to {out}")


@app.command("serve-mcp")
def serve_mcp(
    user: str = typer.Option(..., "--user", help="User id (maya_chen) or name whose world is served."),
    case: str = typer.Option("", "--case", help="A case of that user (music-play-01 or music-play-01@maya_chen): "
                             "only its tools, its clock, and a `check` tool for its key points."),
) -> None:
    """Serve the user's sandbox world as MCP tools over stdio (each call through World.call)."""
    from tooltune.sandbox.mcp_server import open_episode, serve_stdio

    serve_stdio(open_episode(user, case or None))
