"""`tooltune train internalize` refuses bad options and other settings in one line, before any model loads."""

from __future__ import annotations

import pytest

from tests.train.run_cli import run_cli
from tooltune.errors import RunFailure

FAST = ["--retriever", "bm25", "--compressor", "surprisal"]


@pytest.fixture()
def no_models(monkeypatch):
    """Loading a model ends the command (exit 1), so a test sees how far the command got without one."""
    def refuse(*args, **kwargs):
        raise RunFailure("model loading is disabled in this test")

    monkeypatch.setattr("tooltune.models.embedded.load_embedded_model", refuse)
    monkeypatch.setattr("tooltune.models.registry.load_model", refuse)
    monkeypatch.setattr("tooltune.methods.internalize.retrieve.embedding_model_path", lambda: None)


@pytest.mark.parametrize(("options", "message"), [
    (["--knowledge", "profile", "--user", "nobody"], "error: user: no sandbox user 'nobody'"),
    (["--knowledge", "profile", "--user", "maya_chen", "--apps", "spaceship"], "error: apps: unknown app(s)"),
    (["--knowledge", "profile"], "error: --user: required"),
    (["--rules", "0"], "error: --rules: "),
    (["--stages", "1"], "error: --stages: "),
    (["--decay", "cubic"], "error: --decay: "),
    (["--epochs", "0"], "error: --epochs: "),
    (["--epochs", "inf"], "error: --epochs: Input should be a finite number"),  # fields of the TrainConfig and LoRAConfig the config holds whole
    (["--learning-rate", "0"], "error: --learning-rate: "),
    (["--lora-r", "0"], "error: --lora-r: r must be a positive integer"),
    (["--knowledge-candidates", "0"], "error: --knowledge-candidates: "),
    (["--n-train", "100000"], "error: n_train + n_test: cannot generate"),
    (["--retriever", "embedding", "--compressor", "surprisal"], "error: retriever: embedding retrieval needs"),
    (["--student", "/no/such/checkpoint"], "error: student: expected 'smollm2'"),
    (["--student-adapter", "/no/such/adapter"], "error: --student-adapter: only with --knowledge profile"),
    (["--knowledge", "profile", "--user", "maya_chen", "--student-adapter", "/no/such"], "error: student_adapter: "),
    (["--knowledge", "profile", "--user", "maya_chen", "--test-instructions", "no-such-01"], "error: test_instructions: "),
    (["--knowledge", "profile", "--user", "maya_chen,nobody"], "error: user: no sandbox user ['nobody']"),
    (["--knowledge", "profile", "--user", "maya_chen,maya_chen"], "error: user: each user once"),
])
def test_bad_options_are_one_line_usage_errors(tmp_path, capsys, no_models, options, message) -> None:
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "internalize", *FAST, "--output-dir", str(out), *options], capsys)
    assert code == 2 and err.startswith(message) and err.count("\n") == 1, err
    assert not out.exists()


def test_a_rerun_with_other_options_is_refused_before_the_student_loads(tmp_path, capsys, no_models) -> None:
    out = tmp_path / "run"
    args = ["train", "internalize", *FAST, "--output-dir", str(out), "--n-train", "6", "--n-test", "2"]
    code, _, err = run_cli(args, capsys)
    assert code == 1 and "model loading is disabled" in err  # got as far as the student, settings saved
    stage = out / "skintern" / "00-S0-1.00"
    stage.mkdir(parents=True)
    (stage / "stage_done.json").write_text('{"global_step": 4}\n')  # as a finished stage leaves it
    code, _, err = run_cli(args + ["--learning-rate", "0.01", "--seed", "2"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "learning_rate: 0.001 -> 0.01" in err and "seed: 0 -> 2" in err and "--overwrite" in err
    assert (stage / "stage_done.json").read_text() == '{"global_step": 4}\n'
    code, _, err = run_cli(args + ["--learning-rate", "0.01", "--overwrite"], capsys)
    assert code == 1 and "model loading is disabled" in err and not (out / "skintern").exists()
