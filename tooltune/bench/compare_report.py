"""compare.html: a self-contained page comparing runs (inline CSS/SVG, a few lines of inline JS).

Headline difference on `checks`, score bars with bootstrap intervals (overall, per app, per user),
a sortable per-case table of differences, and each case's trajectories side by side.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tooltune.atomic import write_text_atomic
from tooltune.bench.report import CSS, _episode_html
from tooltune.bench.svg import bar_chart

if TYPE_CHECKING:
    from tooltune.bench.compare import Comparison, EpisodeId

MAX_CASES = 300  # cases whose trajectories are shown (largest differences first)

COMPARE_CSS = """
.headline{font-size:16px;background:#f6f8fa;border:1px solid #ddd;border-radius:6px;padding:10px 14px}
.pos{color:#1a7f37}.neg{color:#c62828}th.sort{cursor:pointer}th.sort:hover{background:#e8e8e8}
.charts svg{max-width:100%;height:auto}
.side{display:grid;gap:8px;align-items:start}.side h4{margin:6px 0;font-size:13px}
details.case>summary{font-size:13px}
"""

COMPARE_JS = """<script>
function sortTable(th){const b=th.closest('table').tBodies[0],i=[...th.parentNode.children].indexOf(th);
const dir=th.dataset.dir==='desc'?'asc':'desc';th.dataset.dir=dir;const key=c=>c.dataset.v??c.textContent;
const rows=[...b.rows].sort((a,c)=>{const x=key(a.cells[i]),y=key(c.cells[i]),nx=parseFloat(x),ny=parseFloat(y);
const r=isNaN(nx)||isNaN(ny)?x.localeCompare(y):nx-ny;return dir==='asc'?r:-r;});rows.forEach(r=>b.appendChild(r));}
function filterCases(q){q=q.toLowerCase();for(const d of document.querySelectorAll('details.case')){
d.style.display=d.dataset.text.includes(q)?'':'none';}}
</script>"""


def _nice(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten that is >= value (an axis limit)."""
    if not value > 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value - 1e-12)


def _diffs(entry: dict[str, Any]) -> tuple[list[float], list[list[float]]]:
    """A dimension's differences and intervals as lists (one per non-reference run), whatever the run count."""
    if isinstance(entry["diff"], list):
        return entry["diff"], entry["ci"]
    return [entry["diff"]], [entry["ci"]]


def _signed(value: float, digits: int = 3) -> str:
    css = "pos" if value > 0 else ("neg" if value < 0 else "")
    return f'<span class="{css}">{value:+.{digits}f}</span>'


def _upper(top: float) -> float:
    """Axis top: 1 for rates and shares, else a round number above the largest value (5 for judge scores)."""
    return 1.0 if top <= 1.0 + 1e-9 else _nice(top)


def _bars(labels: Sequence[str], blocks: dict[str, dict[str, Any]], dim: str, title: str, level: int) -> str:
    """Two charts over categories (apps, users, or dimensions): each run's mean of `dim` with its interval,
    and each other run's paired difference to the reference with its interval."""
    names = [n for n, b in blocks.items() if dim in b["dimensions"]]
    if not names:
        return ""
    means = {label: [(blocks[n]["dimensions"][dim]["means"][i], tuple(blocks[n]["mean_ci"][dim][i])) for n in names]
             for i, label in enumerate(labels)}
    diffs: dict[str, list] = {label: [] for label in labels[1:]}
    for n in names:
        for label, diff, ci in zip(labels[1:], *_diffs(blocks[n]["dimensions"][dim])):
            diffs[label].append((diff, tuple(ci)))
    top = max(hi for n in names for _, hi in blocks[n]["mean_ci"][dim])
    reach = _nice(max(abs(v) for series in diffs.values() for d, (lo, hi) in series for v in (d, lo, hi)))
    width = max(480, 90 * len(names))
    return (bar_chart(names, means, _upper(top), f"{title} (bars: {level} % bootstrap intervals over cases)",
                      width=width)
            + bar_chart(names, diffs, reach, f"{title}: difference vs {labels[0]} (paired)", width=width,
                        ymin=-reach, first_colour=1))


def _level(result: dict[str, Any]) -> int:
    return round(result["method"]["level"] * 100)


def _dimension_charts(result: dict[str, Any]) -> str:
    """Per scale (0-1 rates, 0-5 judge scores...): run means and paired differences per dimension."""
    by_scale: dict[float, list[str]] = defaultdict(list)
    for dim, intervals in result["mean_ci"].items():
        by_scale[_upper(max(hi for _, hi in intervals))].append(dim)
    out = []
    for scale, dims in sorted(by_scale.items()):
        # one pseudo-block per dimension, so that _bars draws the dimensions as its categories
        blocks = {d: {"dimensions": {"v": result["dimensions"][d]}, "mean_ci": {"v": result["mean_ci"][d]}}
                  for d in dims}
        out.append(_bars(result["labels"], blocks, "v", f"Scores (0-{scale:g})", _level(result)))
    return '<div class="charts">' + "".join(out) + "</div>"


def _dimension_table(result: dict[str, Any]) -> str:
    labels = result["labels"]
    level = _level(result)
    head = "".join(f"<th>[{i}] {escape(label)}</th>" for i, label in enumerate(labels))
    head += "".join(f"<th>[{i}] − [0]</th><th>{level} % CI</th>" for i in range(1, len(labels)))
    rows = []
    for dim, entry in {**result["dimensions"], **result["diagnostics"]}.items():
        diffs, cis = _diffs(entry)
        cells = "".join(f"<td>{m:.3f}</td>" for m in entry["means"])
        cells += "".join(f"<td>{_signed(d)}</td><td>[{lo:+.3f}, {hi:+.3f}]</td>" for d, (lo, hi) in zip(diffs, cis))
        kind = "" if dim in result["dimensions"] else ' <span class="muted">(count)</span>'
        cases = result["cases_per_dimension"].get(dim, result["n_cases"])
        rows.append(f'<tr><td class="l">{escape(dim)}{kind}</td><td>{cases}</td>{cells}</tr>')
    skipped = "".join(f'<p class="muted">{escape(d)}: not compared ({escape(why)})</p>'
                      for d, why in result["skipped_dimensions"].items())
    return (f'<table><tr><th class="l">dimension</th><th>cases</th>{head}</tr>{"".join(rows)}</table>{skipped}'
            f'<p class="muted">Means over the {result["n_cases"]} matched cases (each case averaged over its matched '
            f'trials, strategies and settings). Differences are paired by case; intervals are percentile bootstrap '
            f'intervals from {result["method"]["resamples"]:,} resamples of cases '
            f'(seed {result["method"]["seed"]}).</p>')


def _headline(comparison: Comparison) -> str:
    result, labels = comparison.result, comparison.result["labels"]
    level = _level(result)
    entry = result["dimensions"].get("checks")
    if entry is None:
        why = result["skipped_dimensions"].get("checks", "no run has it")
        return f'<p class="headline">checks: not compared ({escape(why)})</p>'
    diffs, cis = _diffs(entry)
    parts = []
    for i, (d, (lo, hi)) in enumerate(zip(diffs, cis), start=1):
        case_diffs = [c["diff"]["checks"] if len(labels) == 2 else c["diff"]["checks"][i - 1]
                      for c in result["per_case"] if "checks" in c["diff"]]
        better, worse = sum(x > 0 for x in case_diffs), sum(x < 0 for x in case_diffs)
        parts.append(f'<b>checks</b>: <b>{escape(labels[i])}</b> − <b>{escape(labels[0])}</b> = <b>{_signed(d)}</b> '
                     f'({level} % CI {lo:+.3f} to {hi:+.3f}; {entry["means"][i]:.3f} vs {entry["means"][0]:.3f}) '
                     f'over {result["cases_per_dimension"]["checks"]} cases · better on {better}, worse on {worse}, '
                     f'equal on {len(case_diffs) - better - worse}')
    return '<p class="headline">' + "<br>".join(parts) + "</p>"


def _runs_table(comparison: Comparison) -> str:
    rows = []
    for i, run in enumerate(comparison.runs):
        config = run.config
        groups = ", ".join(f"{s}/{t}" for s in config.get("strategies", []) for t in config.get("settings", []))
        rows.append(f'<tr><td>[{i}]</td><td class="l"><b>{escape(run.label)}</b>{" (reference)" if i == 0 else ""}</td>'
                    f'<td class="l">{escape(str(config.get("model")))}</td>'
                    f'<td class="l">{escape(str(config.get("adapter") or "–"))}</td>'
                    f'<td class="l">{escape(groups)}</td><td>{config.get("trials", "")}</td>'
                    f'<td>{len(run.rows)}</td><td>{comparison.result["dropped"][run.label]}</td>'
                    f'<td class="l"><code>{escape(str(run.path.resolve()))}</code></td></tr>')
    return ('<table><tr><th></th><th class="l">run</th><th class="l">model</th><th class="l">adapter</th>'
            '<th class="l">strategy/setting</th><th>trials</th><th>episodes</th><th>dropped</th>'
            f'<th class="l">directory</th></tr>{"".join(rows)}</table>'
            f'<p class="muted">{comparison.result["n_episodes"]} episodes in every run, matched by (case, strategy, '
            f'setting, trial); episodes not in every run are dropped.</p>')


def _case_table(result: dict[str, Any]) -> str:
    labels, dims = result["labels"], list(result["dimensions"])
    head = "".join(
        "".join(f'<th class="sort" onclick="sortTable(this)">{escape(d)}<br>[{i}]</th>' for i in range(len(labels)))
        + "".join(f'<th class="sort" onclick="sortTable(this)">{escape(d)}<br>[{i}]−[0]</th>'
                  for i in range(1, len(labels)))
        for d in dims)
    body = []
    for case in result["per_case"]:
        cells = []
        for d in dims:
            if d not in case["scores"]:
                cells.append('<td></td>' * (2 * len(labels) - 1))
                continue
            cells.extend(f'<td data-v="{v}">{v:.2f}</td>' for v in case["scores"][d])
            diffs = case["diff"][d] if isinstance(case["diff"][d], list) else [case["diff"][d]]
            cells.extend(f'<td data-v="{v}">{_signed(v, 2)}</td>' for v in diffs)
        body.append(f'<tr><td class="l"><a href="#case-{escape(case["case_id"])}">{escape(case["case_id"])}</a></td>'
                    f'<td class="l">{escape(str(case["user"]))}</td><td class="l">{escape(str(case["apps"]))}</td>'
                    f'<td>{case["episodes"]}</td>{"".join(cells)}</tr>')
    sort = 'class="sort l" onclick="sortTable(this)"'
    return (f'<div style="overflow-x:auto"><table><thead><tr><th {sort}>case</th><th {sort}>user</th>'
            f'<th {sort}>apps</th>'
            f'<th class="sort" onclick="sortTable(this)">episodes</th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div><p class="muted">Click a column to sort. Values are '
            f'case means over the matched episodes.</p>')


def _trajectories(comparison: Comparison) -> str:
    result = comparison.result
    shown = sorted(result["per_case"], key=lambda c: (-max((abs(v) for v in _as_list(c["diff"].get("checks", 0))),
                                                           default=0), c["case_id"]))[:MAX_CASES]
    wanted = {c["case_id"] for c in shown}
    keys = [k for k in comparison.keys if k[0] in wanted]
    by_case: dict[str, list[EpisodeId]] = defaultdict(list)
    for key in keys:
        by_case[key[0]].append(key)
    columns = []
    for run in comparison.runs:
        columns.append((run, run.episodes(set(keys)), run.verdicts()))
    sections = []
    for case in shown:
        side = []
        for i, (run, records, verdicts) in enumerate(columns):
            episodes = []
            for key in by_case[case["case_id"]]:
                record = records.get(key)
                if record is None:
                    missing = escape("|".join(map(str, key)))
                    episodes.append(f'<p class="muted">{missing}: not in trajectories.jsonl</p>')
                else:
                    episodes.append(_episode_html(record, run.rows[key], verdicts.get(record.key.id), True))
            side.append(f'<div><h4>[{i}] {escape(run.label)}</h4>{"".join(episodes)}</div>')
        checks = case["diff"].get("checks")
        delta = "" if checks is None else " · Δchecks " + " ".join(_signed(v, 2) for v in _as_list(checks))
        text = escape(f'{case["case_id"]} {case["user"]} {case["apps"]}'.lower())
        sections.append(
            f'<details class="case" id="case-{escape(case["case_id"])}" data-text="{text}"><summary>'
            f'<code>{escape(case["case_id"])}</code> · {escape(str(case["user"]))} · {escape(str(case["apps"]))}'
            f'{delta}</summary><div class="side" style="grid-template-columns:repeat({len(columns)},minmax(0,1fr))">'
            f'{"".join(side)}</div></details>')
    more = (f'<p class="muted">Showing the {len(shown)} cases with the largest differences on checks, of '
            f'{len(result["per_case"])}.</p>' if len(shown) < len(result["per_case"]) else "")
    return more + "".join(sections)


def _as_list(value: Any) -> list[float]:
    return value if isinstance(value, list) else [value]


def _breakdown(comparison: Comparison, scope: str, title: str) -> str:
    result = comparison.result
    dim = "checks" if "checks" in result["dimensions"] else next(iter(result["dimensions"]), None)
    if dim is None or not result[scope]:
        return ""
    charts = _bars(result["labels"], result[scope], dim, f"{dim} by {title}", _level(result))
    return f'<div class="charts">{charts}</div>'


def _group_table(result: dict[str, Any]) -> str:
    if len(result["per_group"]) < 2:
        return ""
    rows = []
    for group, block in result["per_group"].items():
        for dim, entry in block["dimensions"].items():
            diffs, cis = _diffs(entry)
            rows.append(f'<tr><td class="l">{escape(group)}</td><td class="l">{escape(dim)}</td>'
                        f'<td>{block["cases_per_dimension"][dim]}</td>'
                        + "".join(f"<td>{m:.3f}</td>" for m in entry["means"])
                        + "".join(f"<td>{_signed(d)} [{lo:+.3f}, {hi:+.3f}]</td>" for d, (lo, hi) in zip(diffs, cis))
                        + "</tr>")
    labels = result["labels"]
    head = "".join(f"<th>[{i}]</th>" for i in range(len(labels))) + "".join(
        f"<th>[{i}] − [0] (CI)</th>" for i in range(1, len(labels)))
    return (f'<h2>By strategy / setting</h2><table><tr><th class="l">strategy/setting</th><th class="l">dimension</th>'
            f'<th>cases</th>{head}</tr>{"".join(rows)}</table>')


def render_comparison(comparison: Comparison) -> str:
    """The comparison page as one HTML string."""
    labels = comparison.result["labels"]
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>tooltune compare · {escape(" vs ".join(labels))}</title><style>{CSS}{COMPARE_CSS}</style>{COMPARE_JS}
</head><body>
<h1>tooltune run comparison</h1>
{_headline(comparison)}
{_dimension_charts(comparison.result)}
<h2>Runs</h2>{_runs_table(comparison)}
<h2>Scores</h2>{_dimension_table(comparison.result)}
<h2>By app</h2>{_breakdown(comparison, "per_app", "app")}
<h2>By user</h2>{_breakdown(comparison, "per_user", "user")}
{_group_table(comparison.result)}
<h2>Cases</h2>{_case_table(comparison.result)}
<h2 id="trajectories">Trajectories side by side</h2>
<p><input placeholder="filter by case / user / app" oninput="filterCases(this.value)" size="40"></p>
{_trajectories(comparison)}
</body></html>"""


def write_comparison_report(comparison: Comparison, out_dir: Path) -> Path:
    """Write compare.html into `out_dir` (atomically) and return its path."""
    path = out_dir / "compare.html"
    write_text_atomic(path, render_comparison(comparison))
    return path
