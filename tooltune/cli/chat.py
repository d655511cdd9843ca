"""`tooltune chat` and `tooltune models`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

if TYPE_CHECKING:
    from tooltune.models.base import ChatModel

MODEL_HELP = "smollm2 (embedded default) | PATH to a Hugging Face checkpoint | openai:URL#MODEL"


def chat(
    message: str = typer.Argument(..., help="What to say to the model."),
    model: str = typer.Option("smollm2", "--model", "-m", help=MODEL_HELP),
    adapter: Optional[Path] = typer.Option(None, "--adapter", help="A tooltune adapter directory to attach (local "
                                           "models). One a user's profile was internalized into (train internalize "
                                           "--knowledge profile) serves that user, with no profile in the prompt."),
    system: Optional[str] = typer.Option(None, "--system", help="A system prompt (instead of the served user's)."),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", min=1, help="Most tokens to generate."),
    temperature: float = typer.Option(0.0, "--temperature", min=0.0, help="0 = greedy decoding."),
    allow_insecure_key: bool = typer.Option(
        False, "--allow-insecure-key",
        help="Send $OPENAI_API_KEY even over plain http to a host other than this machine (by default it goes only "
             "over https or to localhost)."),
) -> None:
    """Ask a model one question and print its answer and how long loading took."""
    from tooltune.models.base import ModelError
    from tooltune.models.types import GenerationConfig

    try:
        backend = _load_and_report(model, adapter, allow_insecure_key)
        messages = _opening(message, system, adapter)
        answer = backend.chat(messages, config=GenerationConfig(max_new_tokens=max_new_tokens, temperature=temperature))
    except ModelError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(answer.content or "")
    for call in answer.tool_calls:
        typer.echo(f"tool call: {call.name}({call.arguments})")


def _opening(message: str, system: str | None, adapter: Path | None) -> list[dict]:
    """The messages to send: `--system` if given, else the served user's opening when the adapter holds an
    internalized profile, else the message alone."""
    if system:
        return [{"role": "system", "content": system}, {"role": "user", "content": message}]
    from tooltune.methods.internalize.serve import internalized_user, user_opening

    served = internalized_user(adapter) if adapter is not None else None
    if served is None:
        return [{"role": "user", "content": message}]
    typer.echo(f"[serving {served['user']}: profile internalized in the adapter, none in the prompt]", err=True)
    return user_opening(served["user"], message, served.get("apps"))


def _load_and_report(spec: str, adapter: Optional[Path], allow_insecure_key: bool = False) -> ChatModel:
    """Load a backend and print its load time, apart from the one-off torch/transformers import."""
    from tooltune.models.embedded import EMBEDDED_NAME, is_cached
    from tooltune.models.registry import OPENAI_PREFIX, load_model

    notes = []
    if not spec.startswith(OPENAI_PREFIX):
        start = time.perf_counter()
        import torch  # noqa: F401
        from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel  # noqa: F401

        notes.append(f"+{time.perf_counter() - start:.2f} s importing torch/transformers")
    if spec.strip().lower() == EMBEDDED_NAME:
        notes.append("from cache" if is_cached() else "converted from GGUF and cached")
    options = {"allow_insecure_key": True} if allow_insecure_key and spec.startswith(OPENAI_PREFIX) else {}
    backend = load_model(spec, adapter=adapter, **options)
    typer.echo(f"[{backend.name} loaded in {backend.load_seconds:.2f} s{''.join(', ' + n for n in notes)}]", err=True)
    return backend


def models() -> None:
    """List the model backends available here and where converted weights are cached."""
    from tooltune.models.registry import available_models

    for info in available_models():
        status = "available" if info.available else "MISSING"
        typer.echo(f"{info.spec:<18} {status:<10} {info.kind}\n{'':<29} location: {info.location}\n{'':<29} {info.note}")


def register(app: typer.Typer) -> None:
    """Add the model commands to the top-level app."""
    app.command("chat")(chat)
    app.command("models")(models)
