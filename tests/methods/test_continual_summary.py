"""Results over task orders: mean ± SE per method and paired differences from the reference, from --json files."""

from __future__ import annotations

import json
import math

import pytest

from tests.train.run_cli import run_cli
from tooltune.methods.continual.config import ContinualError
from tooltune.methods.continual.summary import read_results, summarize, summary_table


def result(method: str, tasks: list[str], ap: float, bwt: float | None, fwt: float | None = None) -> dict:
    return {"method": method, "tasks": tasks, "matrix": [],
            "metrics": {"ap": ap, "f_ra": None if bwt is None else -bwt, "bwt": bwt, "fwt": fwt}}


@pytest.fixture()
def files(tmp_path):
    one, two = ["a", "b"], ["b", "a"]
    paths = {"o1.json": [result("data", one, 0.6, -0.2, 0.1), result("seqlora", one, 0.4, -0.5, 0.0)],
             "o2-data.json": [result("data", two, 0.5, -0.1, 0.3)],
             "o2-rest.json": [result("seqlora", two, 0.2, -0.4, 0.2), result("multitask", two, 0.9, None)]}
    for name, results in paths.items():
        (tmp_path / name).write_text(json.dumps({"scorer": "greedy", "results": results}))
    return [tmp_path / name for name in paths]


def test_metrics_are_averaged_over_orders_and_paired_with_the_reference(files):
    summary = summarize(read_results(files))
    assert summary["orders"] == [["a", "b"], ["b", "a"]]
    data = summary["methods"]["data"]
    mean, se, n = data["metrics"]["ap"]
    assert n == 2 and mean == pytest.approx(0.55) and se == pytest.approx(0.05)
    diff, diff_se, _ = data["minus_reference"]["ap"]  # per order: +0.2, +0.3
    assert diff == pytest.approx(0.25) and diff_se == pytest.approx(0.05)
    assert data["minus_reference"]["bwt"][0] == pytest.approx(0.3)
    assert summary["methods"]["seqlora"]["minus_reference"]["ap"] is None
    multitask = summary["methods"]["multitask"]
    assert multitask["orders"] == 1 and multitask["metrics"]["bwt"] is None and multitask["metrics"]["ap"][1] == 0.0
    assert math.isclose(multitask["minus_reference"]["ap"][0], 0.7)
    table = summary_table(summary)
    assert "| data | 2 | 0.550 ± 0.050 |" in table and "+0.250 ± 0.050" in table


def test_a_method_twice_in_one_order_or_a_bad_file_is_refused(files, tmp_path):
    with pytest.raises(ContinualError, match="given twice"):
        read_results([files[0], files[0]])
    (tmp_path / "bad.json").write_text("[]")
    with pytest.raises(ContinualError, match="not a `train continual --json` file"):
        read_results([tmp_path / "bad.json"])


def test_the_command_prints_the_orders_and_the_table(files, capsys):
    code, out, _ = run_cli(["train", "continual-summary", *map(str, files), "--reference", "seqlora"], capsys)
    assert code == 0 and "order: a -> b" in out and "| data | 2 |" in out
