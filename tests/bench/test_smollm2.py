"""The benchmark on the real embedded SmolLM2 (slow: loads the 135M model and generates on CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tooltune.bench.config import RunConfig
from tooltune.bench.run import run_benchmark


@pytest.mark.slow
def test_smollm2_two_cases_fc_and_react(tmp_path: Path) -> None:
    config = RunConfig(model="smollm2", strategies=["fc", "react"], limit=2, seed=0, max_turns=2, max_new_tokens=48,
                       batch_size=4)
    result = run_benchmark(config, tmp_path / "run", progress=False)
    assert result.counts["done"] + result.counts["failed"] == 4
    assert result.counts["failed"] == 0, result.failures
    assert result.report.exists() and result.summary["episodes"] == 4
