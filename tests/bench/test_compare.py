"""`tooltune bench compare`: paired differences with bootstrap intervals between real run directories.

Runs come from run_benchmark on the built-in sandbox with scripted agents: the reference policy (gold,
passes every checkable key point) and the same solvers run preference-blind (fails about half).
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import struct
import subprocess
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.bench.fakes import FakeSuite, fake_check, fake_opening
from tests.bench.gold import GoldReplay
from tests.bench.policies import music_policy
from tooltune.bench.compare import CompareError, compare_runs, default_out_dir, write_comparison
from tooltune.bench.config import RunConfig
from tooltune.bench.run import run_benchmark
from tooltune.bench.runner import Harness, sandbox_harness
from tooltune.bench.selection import select_cases
from tooltune.bench.stats import bootstrap_ci, paired_bootstrap
from tooltune.cli import app
from tooltune.models.scripted import ScriptedModel
from tooltune.sandbox.prompts import episode_messages
from tooltune.sandbox.reference import blind_trajectory, gold_trajectory
from tooltune.sandbox.suite import builtin_suite

LIMIT, SEED, TRIALS = 12, 2, 2
SCORE_DIMENSIONS = {"checks", "checks_personal", "checks_proactive", "success"}


def replay(suite, cases, policy) -> ScriptedModel:
    golds = {}
    for case in cases:
        opening = episode_messages(case)
        with suite.open_world(case) as world:
            golds[opening[0]["content"] + "\x00" + opening[1]["content"]] = policy(case, world)
    return ScriptedModel(GoldReplay(golds))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """blind and gold on the same 12 cases x 2 trials; gold6 on half of those cases."""
    root = tmp_path_factory.mktemp("runs")
    suite = builtin_suite()
    cases = select_cases(suite.cases, limit=LIMIT, seed=SEED)
    out = {}
    for name, policy, options in [("blind", blind_trajectory, {"limit": LIMIT}),
                                  ("gold", gold_trajectory, {"limit": LIMIT}),
                                  ("gold6", gold_trajectory, {"cases": [c.id for c in cases[:6]]})]:
        config = RunConfig(model=name, seed=SEED, trials=TRIALS, **options)
        result = run_benchmark(config, root / name, model=replay(suite, cases, policy), suite=suite,
                               harness=sandbox_harness(suite), progress=False)
        assert result.counts["failed"] == 0
        out[name] = result.run_dir
    return out


def fake_run(path: Path, strategy: str) -> Path:
    suite = FakeSuite()
    run_benchmark(RunConfig(model="scripted", strategies=[strategy]), path, model=ScriptedModel(music_policy),
                  suite=suite, harness=Harness(suite.open_world, fake_opening, fake_check), progress=False)
    return path


def case_means(run_dir: Path, dim: str) -> dict[str, float]:
    """Per-case mean of a dimension over all trials, straight from episodes.csv."""
    values: dict[str, list[float]] = defaultdict(list)
    with (run_dir / "episodes.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row[dim] != "":
                values[row["case_id"]].append(float(row[dim]))
    return {case: sum(v) / len(v) for case, v in values.items()}


# -- statistics ------------------------------------------------------------------------------------------------

def test_bootstrap_interval_is_seeded_and_about_normal_width() -> None:
    values = np.random.default_rng(1).normal(2.0, 1.0, size=400)
    mean, low, high = bootstrap_ci(values, resamples=4000, seed=7)
    assert bootstrap_ci(values, resamples=4000, seed=7) == (mean, low, high)
    assert mean == pytest.approx(values.mean()) and low < mean < high
    normal = 1.96 * values.std(ddof=1) / math.sqrt(len(values))
    assert (high - low) / 2 == pytest.approx(normal, rel=0.15)
    assert math.isnan(bootstrap_ci([])[0])


def test_paired_bootstrap_resamples_pairs() -> None:
    base = [0.1, 0.5, 0.9, 0.3]
    assert paired_bootstrap(base, [b + 0.25 for b in base]) == pytest.approx((0.25, 0.25, 0.25))
    assert paired_bootstrap(base, base) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="differ in length"):
        paired_bootstrap([1.0], [1.0, 2.0])


# -- comparisons of real runs ----------------------------------------------------------------------------------

def test_paired_diff_is_the_mean_of_case_differences(runs) -> None:
    result = compare_runs([runs["blind"], runs["gold"]], resamples=2000).result
    assert set(result["dimensions"]) >= SCORE_DIMENSIONS
    assert result["n_cases"] == LIMIT and result["n_episodes"] == LIMIT * TRIALS
    for dim in SCORE_DIMENSIONS:
        blind, gold = case_means(runs["blind"], dim), case_means(runs["gold"], dim)
        differences = [gold[c] - blind[c] for c in blind]
        entry = result["dimensions"][dim]
        assert entry["diff"] == pytest.approx(sum(differences) / len(differences))
        assert entry["diff"] == pytest.approx(entry["means"][1] - entry["means"][0])
        assert entry["means"][0] == pytest.approx(sum(blind.values()) / len(blind))
        assert result["cases_per_dimension"][dim] == len(differences)
    per_case = {c["case_id"]: c for c in result["per_case"]}
    blind, gold = case_means(runs["blind"], "checks"), case_means(runs["gold"], "checks")
    assert all(per_case[c]["diff"]["checks"] == pytest.approx(gold[c] - blind[c]) for c in blind)
    assert all(per_case[c]["episodes"] == TRIALS for c in blind)


def test_interval_excludes_zero_when_one_run_is_clearly_better(runs) -> None:
    result = compare_runs([runs["blind"], runs["gold"]]).result
    checks = result["dimensions"]["checks"]
    low, high = checks["ci"]
    assert 0 < low <= checks["diff"] <= high
    assert checks["means"][1] == 1.0 and checks["means"][0] < 0.8
    assert result["method"]["resamples"] == 10_000
    assert result["labels"] == ["blind", "gold"] and result["dropped"] == {"blind": 0, "gold": 0}
    # breakdowns carry the same shape, per app and per user
    for scope in ("per_app", "per_user", "per_group"):
        block = next(iter(result[scope].values()))
        assert {"means", "diff", "ci"} == set(block["dimensions"]["checks"])
    assert set(result["per_group"]) == {"fc/given"}


def test_a_run_against_itself_differs_by_exactly_zero(runs) -> None:
    result = compare_runs([runs["gold"], runs["gold"]]).result
    for dim, entry in result["dimensions"].items():
        assert entry["diff"] == 0.0 and entry["ci"] == [0.0, 0.0], dim
        assert entry["ci"][0] <= 0 <= entry["ci"][1]
    assert result["labels"][0] != result["labels"][1]  # same model twice: disambiguated


def test_partial_overlap_reports_matched_and_dropped(runs) -> None:
    result = compare_runs([runs["blind"], runs["gold6"]]).result
    assert result["n_cases"] == 6 and result["n_episodes"] == 6 * TRIALS
    assert result["dropped"] == {"blind": 6 * TRIALS, "gold6": 0}


def test_three_runs_give_one_diff_per_other_run(runs, tmp_path: Path) -> None:
    comparison = compare_runs([runs["blind"], runs["gold"], runs["blind"]], resamples=500)
    checks = comparison.result["dimensions"]["checks"]
    assert len(checks["means"]) == 3 and len(checks["diff"]) == 2 and len(checks["ci"]) == 2
    assert checks["diff"][1] == 0.0 and checks["ci"][1] == [0.0, 0.0] and checks["ci"][0][0] > 0
    page = write_comparison(comparison, tmp_path).read_text()
    assert "grid-template-columns:repeat(3," in page and "[2]−[0]" in page


def test_runs_without_shared_episodes_are_refused_clearly(runs, tmp_path: Path) -> None:
    fc, react = fake_run(tmp_path / "fc", "fc"), fake_run(tmp_path / "react", "react")
    with pytest.raises(CompareError, match=r"share no episodes: strategies differ \(scripted.*: fc; .*: react"):
        compare_runs([fc, react])
    with pytest.raises(CompareError, match=r"cases differ \(blind: 12 values; scripted: 6 values; 0 in common\)"):
        compare_runs([runs["blind"], fc])
    with pytest.raises(CompareError, match="no such run directory"):
        compare_runs([runs["blind"], tmp_path / "missing"])
    with pytest.raises(CompareError, match="not a run directory"):
        compare_runs([runs["blind"], tmp_path])
    with pytest.raises(CompareError, match="at least two"):
        compare_runs([runs["blind"]])


def with_extra_columns(run_dir: Path, target: Path, judge_score: float) -> Path:
    """A copy of a run whose episodes.csv gained a judge score and a new rate column."""
    shutil.copytree(run_dir, target)
    with (run_dir / "episodes.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    for i, row in enumerate(rows):
        row["procedure"] = str(judge_score)
        row["well_formed_rate"] = str(1.0 if i % 2 else 0.5)
    with (target / "episodes.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return target


def test_any_numeric_episode_column_is_a_dimension(runs, tmp_path: Path) -> None:
    base = with_extra_columns(runs["blind"], tmp_path / "a", 2.0)
    tuned = with_extra_columns(runs["gold"], tmp_path / "b", 4.5)
    comparison = compare_runs([base, tuned], resamples=500)
    result = comparison.result
    assert result["dimensions"]["procedure"]["diff"] == pytest.approx(2.5)
    assert "Scores (0-5)" in write_comparison(comparison, tmp_path / "out").read_text()
    assert result["dimensions"]["well_formed_rate"]["diff"] == 0.0
    assert "turns" in result["diagnostics"] and "turns" not in result["dimensions"]
    only_one = compare_runs([base, runs["gold"]], resamples=200).result
    assert "procedure" not in only_one["dimensions"]
    assert only_one["skipped_dimensions"]["procedure"] == "no values in gold"


def test_compare_json_has_the_documented_shape(runs, tmp_path: Path) -> None:
    comparison = compare_runs([runs["blind"], runs["gold"]], resamples=500)
    html = write_comparison(comparison, tmp_path / "out")
    data = json.loads((tmp_path / "out" / "compare.json").read_text())
    assert html == tmp_path / "out" / "compare.html"
    assert data["runs"] == [str(runs["blind"].resolve()), str(runs["gold"].resolve())]
    assert set(data["dimensions"]) == SCORE_DIMENSIONS | {"well_formed_rate"}  # no judge, no judge dimensions
    for entry in data["dimensions"].values():
        assert set(entry) == {"means", "diff", "ci"}
        assert len(entry["means"]) == 2 and isinstance(entry["diff"], float)
        assert len(entry["ci"]) == 2 and entry["ci"][0] <= entry["diff"] <= entry["ci"][1]
    assert {"n_cases", "per_app", "per_user", "per_case", "labels", "dropped", "method"} <= set(data)
    page = html.read_text()
    assert page.count("<svg") >= 6 and page.count('<details class="case"') == LIMIT and "tool result" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing external
    assert "<b>checks</b>: <b>gold</b> − <b>blind</b>" in page


# -- the command -----------------------------------------------------------------------------------------------

def test_cli_compare_writes_reports_and_ends_with_the_report_path(runs) -> None:
    result = CliRunner().invoke(app, ["bench", "compare", str(runs["blind"]), str(runs["gold"]),
                                      "--labels", "base,tuned", "--resamples", "1000", "--seed", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    out = default_out_dir([runs["blind"], runs["gold"]])
    assert out == runs["blind"].parent / "compare-blind-vs-gold"
    assert lines[-1] == f"report: {(out / 'compare.html').resolve()}"
    assert any(line.startswith("checks ") and "[" in line for line in lines)
    data = json.loads((out / "compare.json").read_text())
    assert data["labels"] == ["base", "tuned"] and data["method"]["seed"] == 3


def test_cli_compare_errors_are_one_line_with_exit_code_2(runs, tmp_path: Path) -> None:
    cli = CliRunner()
    fc = fake_run(tmp_path / "fc", "fc")
    cases = [
        ([str(runs["blind"]), str(tmp_path / "nope")], "no such run directory"),
        ([str(runs["blind"]), str(tmp_path)], "is not a run directory"),
        ([str(runs["blind"]), str(fc)], "share no episodes"),
        ([str(runs["blind"])], "at least two"),
        ([str(runs["blind"]), str(runs["gold"]), "--labels", "one"], "1 labels for 2 runs"),
    ]
    for args, message in cases:
        result = cli.invoke(app, ["bench", "compare", *args, "--out", str(tmp_path / "out")])
        assert result.exit_code == 2, (args, result.output)
        assert isinstance(result.exception, SystemExit)  # no traceback
        assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "out").exists()


# -- the page in a real browser --------------------------------------------------------------------------------

def read_png(path: Path, max_rows: int) -> tuple[int, int, list[bytes]]:
    """Width, height and the first `max_rows` scanlines as RGB bytes, of an 8-bit non-interlaced PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
        elif kind == b"IDAT":
            idat += body
    channels = 4 if colour == 6 else 3
    raw, stride = zlib.decompress(idat), width * channels
    lines, previous = [], bytearray(stride)
    for y in range(min(height, max_rows)):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        lines.append(bytes(line))
        previous = line
    return width, height, [bytes(b for x in range(width) for b in line[x * channels:x * channels + 3])
                           for line in lines]


def chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                           "--no-first-run", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", "--hide-scrollbars", *args],
                          capture_output=True, text=True, timeout=180, check=True)


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="chromium not installed (apt-get install -y chromium); the browser rendering check needs it")
def test_compare_page_renders_its_charts_in_headless_chromium(runs, tmp_path: Path) -> None:
    html = write_comparison(compare_runs([runs["blind"], runs["gold"]], labels=["base", "tuned"], resamples=1000),
                            tmp_path / "out")
    profile = str(tmp_path / "profile")
    dom = chromium(f"--user-data-dir={profile}", "--dump-dom", html.as_uri()).stdout
    assert dom.count("<svg") >= 6 and dom.count('fill="#4e79a7"') >= 4 and dom.count('fill="#f28e2b"') >= 4
    assert "sortTable" in dom and 'class="case"' in dom
    shot = tmp_path / "compare.png"
    chromium(f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1200,1600", html.as_uri())
    width, height, rows = read_png(shot, max_rows=500)
    assert (width, height) == (1200, 1600)
    # the score charts sit right under the headline: bars of both runs' colours must be painted there
    colours = {(78, 121, 167): 0, (242, 142, 43): 0}
    painted = 0
    for row in rows[100:500]:
        for x in range(0, width * 3, 3):
            pixel = (row[x], row[x + 1], row[x + 2])
            painted += pixel != (255, 255, 255)
            if pixel in colours:
                colours[pixel] += 1
    assert all(count > 2000 for count in colours.values()), colours
    assert painted > 0.05 * 400 * width
