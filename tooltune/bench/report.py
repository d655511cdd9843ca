"""The self-contained HTML report: score plots, tables, and a trajectory viewer (inline CSS/SVG only)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from tooltune.bench.config import RunConfig
from tooltune.bench.episode import EpisodeRecord
from tooltune.atomic import write_text_atomic
from tooltune.bench.scores import CHECK_DIMENSIONS, DIAGNOSTICS, JUDGE_DIMENSIONS, case_rows
from tooltune.bench.svg import bar_chart, line_chart

MAX_TRAJECTORIES = 2000
MAX_MESSAGE_CHARS = 6000

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}th,td{border:1px solid #ddd;padding:3px 6px;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}.muted{color:#777}.ok{color:#1a7f37}.bad{color:#c62828}
details{margin:4px 0;border:1px solid #e3e3e3;border-radius:4px;padding:4px 8px}
summary{cursor:pointer;font-size:13px}.msg{margin:6px 0;padding:6px 8px;border-radius:4px;font-size:12px;
white-space:pre-wrap;word-break:break-word}.system{background:#f6f6f6}.user{background:#e8f0fe}
.assistant{background:#fff8e1}.tool{background:#e8f5e9}.toolerr{background:#fdecea}.call{font-family:monospace;
background:#fff3cd;display:block;margin-top:4px;padding:3px}.role{font-weight:bold;font-size:11px;color:#555}
.charts svg{margin:4px 12px 4px 0;border:1px solid #eee}code{font-size:12px}
"""


def _fmt(stat: dict[str, Any] | None, digits: int = 3) -> str:
    if not stat:
        return '<span class="muted">–</span>'
    se = f" ± {stat['se']:.{digits}f}" if stat.get("se") else ""
    return f"{stat['mean']:.{digits}f}{se}"


def _summary_table(summary: dict[str, Any]) -> str:
    dims = [d for d in CHECK_DIMENSIONS + JUDGE_DIMENSIONS + DIAGNOSTICS
            if any(g["overall"].get(d) for g in summary["groups"].values())]
    head = "".join(f"<th>{escape(d)}</th>" for d in dims)
    ks = sorted({k for g in summary["groups"].values() for k in g["overall"]["pass_hat_k"]}, key=int)
    head += "".join(f"<th>pass^{k}</th>" for k in ks)
    rows = []
    for group, parts in summary["groups"].items():
        overall = parts["overall"]
        cells = "".join(f"<td>{_fmt(overall.get(d))}</td>" for d in dims)
        cells += "".join(f"<td>{overall['pass_hat_k'].get(k, float('nan')):.3f}</td>" for k in ks)
        rows.append(f'<tr><td class="l">{escape(group)}</td><td>{overall["cases"]}</td>{cells}</tr>')
    return (f'<table><tr><th class="l">strategy/setting</th><th>cases</th>{head}</tr>{"".join(rows)}</table>'
            '<p class="muted">Means over cases (each case averaged over its trials) ± standard error. '
            'checks*: share of checkable key points passed; success: all checkable key points passed; '
            'procedure/personalization/proactivity: LLM judge, 0-5; well_formed_rate: share of attempted tool calls '
            'that parsed and were valid calls of an offered tool.</p>')


def _breakdown_table(summary: dict[str, Any], scope: str, dims: Sequence[str]) -> str:
    dims = [d for d in dims if any(part[d] for g in summary["groups"].values() for part in g[scope].values())]
    names = sorted({n for g in summary["groups"].values() for n in g[scope]})
    groups = list(summary["groups"])
    head = "".join(f"<th>{escape(g)}<br>{escape(d)}</th>" for g in groups for d in dims)
    body = []
    for name in names:
        cells = "".join(f"<td>{_fmt(summary['groups'][g][scope].get(name, {}).get(d))}</td>"
                        for g in groups for d in dims)
        body.append(f'<tr><td class="l">{escape(name)}</td>{cells}</tr>')
    return f'<table><tr><th class="l">{scope.removeprefix("by_")}</th>{head}</tr>{"".join(body)}</table>'


def _pair(stats: dict[str, Any], dim: str) -> tuple[float | None, float | None]:
    stat = stats.get(dim)
    return (stat["mean"], stat["se"]) if stat else (None, None)


def _charts(summary: dict[str, Any]) -> str:
    groups = summary["groups"]
    out = []
    det = [d for d in CHECK_DIMENSIONS if any(g["overall"].get(d) for g in groups.values())]
    if det:
        series = {g: [_pair(p["overall"], d) for d in det] for g, p in groups.items()}
        out.append(bar_chart(det, series, 1.0, "Deterministic key-point scores (0-1)"))
    judged = [d for d in JUDGE_DIMENSIONS if any(g["overall"].get(d) for g in groups.values())]
    if judged:
        series = {g: [_pair(p["overall"], d) for d in judged] for g, p in groups.items()}
        out.append(bar_chart(judged, series, 5.0, "LLM judge scores (0-5)", width=480))
    curves = {g: [(float(k), v) for k, v in sorted(p["overall"]["pass_hat_k"].items(), key=lambda kv: int(kv[0]))]
              for g, p in groups.items() if p["overall"]["pass_hat_k"]}
    if curves:
        out.append(line_chart(curves, "pass^k over trials", "k"))
    apps = sorted({a for p in groups.values() for a in p["by_app"]})
    dim = "checks" if any(p["overall"].get("checks") for p in groups.values()) else "procedure"
    if apps:
        series = {g: [_pair(p["by_app"].get(a, {}), dim) for a in apps] for g, p in groups.items()}
        out.append(bar_chart(apps, series, 1.0 if dim == "checks" else 5.0, f"{dim} by app",
                             width=max(480, 70 * len(apps))))
    return '<div class="charts">' + "".join(out) + "</div>"


def _message_html(message: dict[str, Any]) -> str:
    role = str(message.get("role"))
    content = message.get("content")
    text = content if isinstance(content, str) else ("" if content is None else json.dumps(content))
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + f"… [{len(text) - MAX_MESSAGE_CHARS} more characters]"
    css = role
    label = role
    if role == "tool":
        label = f"tool result · {message.get('name', '')}"
        if text.startswith('{"error"'):
            css = "toolerr"
    if role == "user" and text.startswith("Error:"):
        css, label = "toolerr", "harness error"
    calls = "".join(
        f'<span class="call">→ {escape(str(c.get("function", {}).get("name")))}'
        f'({escape(str(c.get("function", {}).get("arguments")))})</span>'
        for c in message.get("tool_calls") or [])
    return f'<div class="msg {css}"><div class="role">{escape(label)}</div>{escape(text)}{calls}</div>'


def _episode_html(record: EpisodeRecord, row: dict[str, Any], verdict: dict[str, Any] | None,
                  is_open: bool = False) -> str:
    success = row.get("success")
    mark = "" if success is None else ('<span class="ok">✔</span>' if success else '<span class="bad">✘</span>')
    checks = "".join(
        f'<li>{"✔" if c.get("passed") else ("✘" if c.get("passed") is False else "·")} '
        f'<b>{escape(str(c.get("kind") or ""))}</b> {escape(str(c.get("text") or c.get("keypoint_id")))} '
        f'<span class="muted">— {escape(str(c.get("reason", "")))}</span></li>' for c in record.checks)
    judge = ""
    if verdict and "error" not in verdict:
        points = "; ".join(f"{d} key points {verdict.get(f'{d}_points')}" for d in JUDGE_DIMENSIONS[1:])
        judge = (f"<p>Judge ({escape(', '.join(verdict.get('judges', [])))}): "
                 + ", ".join(f"{d} {verdict.get(d)}" for d in JUDGE_DIMENSIONS)
                 + f' <span class="muted">({escape(points)}; 0-2 each, None = not applicable)</span></p>')
    elif verdict:
        judge = f'<p class="bad">Judge: {escape(str(verdict.get("error")))}</p>'
    notes = "".join(f'<p class="bad">{escape(n)}</p>' for n in record.notes)
    messages = "".join(_message_html(m) for m in record.trajectory)
    return (f'<details class="ep"{" open" if is_open else ""} data-text="{escape(record.key.id.lower())}"><summary>{mark} '
            f'<code>{escape(record.key.id)}</code> · {record.turns} turns · {len(record.calls)} calls · '
            f'{escape(record.finish_reason)}</summary><ul>{checks}</ul>{judge}{notes}{messages}</details>')


FILTER_JS = """<script>
function filterEpisodes(q){q=q.toLowerCase();for(const d of document.querySelectorAll('details.ep')){
d.style.display=d.dataset.text.includes(q)?'':'none';}}
</script>"""


def render_report(config: RunConfig, summary: dict[str, Any], rows: Sequence[dict[str, Any]],
                  records: Sequence[EpisodeRecord], verdicts: dict[str, Any]) -> str:
    """The report page as one HTML string."""
    by_id = {r["episode"]: r for r in rows}
    shown = list(records)[:MAX_TRAJECTORIES]
    cases = case_rows(rows)
    case_dims = [d for d in ("checks", "success", "procedure", "personalization", "proactivity", "turns")
                 if any(c.get(d) is not None for c in cases)]
    case_table = "".join(
        f'<tr><td class="l">{escape(c["group"])}</td><td class="l">{escape(c["case_id"])}</td>'
        f'<td class="l">{escape(c["user"])}</td><td class="l">{escape(c["apps"])}</td><td>{c["trials"]}</td>'
        + "".join(f"<td>{'' if c.get(d) is None else f'{c[d]:.2f}'}</td>" for d in case_dims) + "</tr>"
        for c in cases)
    unjudged = summary.get("unjudged_keypoints", 0)
    note = (f'<p class="muted">{unjudged} free-text key-point results are unjudged (run '
            f'<code>tooltune bench judge RUN --judge MODEL</code> to judge them).</p>' if unjudged else "")
    more = (f'<p class="muted">Showing {len(shown)} of {len(records)} episodes.</p>'
            if len(shown) < len(records) else "")
    options = escape(json.dumps({k: v for k, v in config.to_dict().items() if v not in ([], None)}))
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>tooltune bench · {escape(config.model)}</title><style>{CSS}</style>{FILTER_JS}</head><body>
<h1>tooltune benchmark report</h1>
<p>Model <b>{escape(config.model)}</b> · suite <b>{escape(config.suite)}</b> · {summary['episodes']} episodes
· {summary.get('failed_episodes', 0)} failed</p><p class="muted"><code>{options}</code></p>
<h2>Scores</h2>{_summary_table(summary)}{note}{_charts(summary)}
<h2>By app</h2>{_breakdown_table(summary, "by_app", ["checks", "success", "procedure"])}
<h2>By user</h2>{_breakdown_table(summary, "by_user", ["checks", "success", "procedure"])}
<h2>Cases</h2><table><tr><th class="l">strategy/setting</th><th class="l">case</th><th class="l">user</th>
<th class="l">apps</th><th>trials</th>{"".join(f"<th>{d}</th>" for d in case_dims)}</tr>{case_table}</table>
<h2 id="trajectories">Trajectories</h2><p><input placeholder="filter by case / strategy" oninput="filterEpisodes(this.value)"
 size="40"></p>{more}
{"".join(_episode_html(r, by_id.get(r.key.id, {}), verdicts.get(r.key.id), i == 0) for i, r in enumerate(shown))}
</body></html>"""


def write_report(run_dir: Path, config: RunConfig, summary: dict[str, Any], rows: Sequence[dict[str, Any]],
                 records: Sequence[EpisodeRecord], verdicts: dict[str, Any]) -> Path:
    """Write report.html into the run directory (atomically) and return its path."""
    path = run_dir / "report.html"
    write_text_atomic(path, render_report(config, summary, rows, records, verdicts))
    return path
