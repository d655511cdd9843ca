"""The agent recipe: a split that leaks nothing held out, a directory that refuses other settings, and the
whole recipe (train -> base and tuned benchmark -> comparison -> model card) on a tiny checkpoint."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from tests.train.tiny import tiny_checkpoint
from tooltune.methods.agent_recipe import AgentRecipeConfig, check_recipe_dir, recipe_split
from tooltune.train.settings import RunDirError
from tooltune.sandbox.suite import builtin_suite


@pytest.fixture(scope="module")
def cases():
    return builtin_suite().cases


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_split_leaks_no_held_out_instruction_or_user(cases, seed) -> None:
    split = recipe_split(cases, AgentRecipeConfig(seed=seed))
    trained_instructions = {c.instruction.id for c in split.train}
    trained_users = {c.user.id for c in split.train}
    assert not trained_instructions & set(split.held_out_instructions)
    assert not trained_users & set(split.held_out_users)
    assert {c.instruction.id for c in split.evaluation} <= set(split.held_out_instructions)
    assert {c.user.id for c in split.evaluation} <= set(split.held_out_users)
    assert not {c.id for c in split.train} & {c.id for c in split.evaluation}
    # a quarter of 54 instructions and of 16 users, rounded up
    assert len(split.held_out_instructions) == 14 and len(split.held_out_users) == 4
    assert len(split.train) == 40 * 12 and len(split.evaluation) == 14 * 4


def test_split_subsets_are_seeded_and_stay_on_their_side(cases) -> None:
    config = AgentRecipeConfig(train_cases=30, eval_cases=10, seed=3)
    first, again = recipe_split(cases, config), recipe_split(cases, config)
    assert [c.id for c in first.train] == [c.id for c in again.train]
    assert len(first.train) == 30 and len(first.evaluation) == 10
    full = recipe_split(cases, AgentRecipeConfig(seed=3))
    assert {c.id for c in first.train} <= {c.id for c in full.train}
    assert {c.id for c in first.evaluation} <= {c.id for c in full.evaluation}


def test_recipe_dir_refuses_other_settings_and_foreign_directories(tmp_path) -> None:
    config = AgentRecipeConfig(train_cases=8)
    run = tmp_path / "run"
    assert not check_recipe_dir(run, config)  # nothing there: a fresh recipe
    run.mkdir()
    (run / "recipe.json").write_text(config.model_dump_json())
    assert not check_recipe_dir(run, AgentRecipeConfig(train_cases=9))  # no results yet: nothing to lose
    (run / "train.jsonl").write_text("{}\n")
    assert check_recipe_dir(run, config)  # same settings: resume
    with pytest.raises(RunDirError, match="train_cases: 8 -> 9"):
        check_recipe_dir(run, AgentRecipeConfig(train_cases=9))
    assert not check_recipe_dir(run, AgentRecipeConfig(train_cases=9), overwrite=True)
    foreign = tmp_path / "other"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="without recipe.json"):
        check_recipe_dir(foreign, config)


@pytest.mark.parametrize("field, value", [("dtype", "float16"), ("strategies", ["fc", "cot"]), ("strategies", []),
                                          ("tool_choice", "no spaces"), ("seed", -1), ("seed", 2**40)])
def test_recipe_settings_are_validated_before_anything_runs(field, value) -> None:
    with pytest.raises(ValidationError, match=field):
        AgentRecipeConfig(**{field: value})


@pytest.fixture()
def checkpoint(tmp_path):
    return tiny_checkpoint(tmp_path / "tiny")


def test_recipe_end_to_end_on_a_tiny_checkpoint(checkpoint, tmp_path) -> None:
    from tooltune.methods.agent_recipe import run_agent_recipe

    training = AgentRecipeConfig().training
    training.train = training.train.model_copy(update={"max_steps": 2, "grad_accum": 1, "max_length": 4096})
    config = AgentRecipeConfig(model=str(checkpoint), train_cases=3, eval_cases=2, training=training, dtype="float32",
                               max_turns=2, max_new_tokens=8, eval_batch_size=2)
    out = tmp_path / "recipe"
    result = run_agent_recipe(config, out, progress=False, log=lambda _: None)
    split = json.loads((out / "split.json").read_text())
    assert len(split["train_cases"]) == 3 and len(split["eval_cases"]) == 2
    assert [json.loads(line)["id"] for line in (out / "train.jsonl").read_text().splitlines()] == split["train_cases"]
    assert (out / "train" / "adapter" / "adapter_model.safetensors").is_file()
    base = json.loads((out / "bench-base" / "config.json").read_text())
    tuned = json.loads((out / "bench-tuned" / "config.json").read_text())
    assert base["cases"] == tuned["cases"] == split["eval_cases"]
    assert base["adapter"] is None and tuned["adapter"] == str(out / "train" / "adapter")
    compare = json.loads((out / "compare" / "compare.json").read_text())
    assert set(compare["dimensions"]["checks"]) >= {"means", "diff", "ci"}
    assert compare["n_cases"] == 2
    card = result.card.read_text()
    assert "| checks |" in card and ", ".join(split["held_out_users"]) in card
    assert (out / "train" / "adapter" / "README.md").read_text() == card
    # a rerun resumes: nothing is trained or run again, the same comparison comes back
    again = run_agent_recipe(config, out, progress=False, log=lambda _: None)
    assert again.comparison["dimensions"] == result.comparison["dimensions"]
    # a half-written training marker means "not trained": the rerun trains (its stage replays) and writes it whole
    done = out / "train" / "done.json"
    done.write_text('{"model": "' + str(checkpoint)[:5])
    third = run_agent_recipe(config, out, progress=False, log=lambda _: None)
    assert json.loads(done.read_text())["adapter"] == str(out / "train" / "adapter")
    assert third.comparison["dimensions"] == result.comparison["dimensions"]


@pytest.mark.parametrize("argv, option", [(["--dtype", "float16"], "--dtype"), (["--strategy", "cot"], "--strategy"),
                                          (["--seed", "-3"], "--seed"), (["--tool-choice", "a b"], "--tool-choice"),
                                          (["--lr", "0"], "--lr"), (["--lr", "inf"], "--lr"),
                                          (["--lora-alpha", "0"], "--lora-alpha"), (["--full-lr", "0"], "--full-lr")])
def test_cli_names_the_bad_option_in_one_line_before_anything_is_written(tmp_path, capsys, argv, option) -> None:
    from tooltune.cli import main

    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "agent", "--out", str(out), *argv])
    error = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and error.startswith(f"error: {option}:") and "\n" not in error
    assert not out.exists()


def test_answer_requests_go_before_the_final_answer_of_a_seeded_share_of_trajectories() -> None:
    from tooltune.bench.strategies.base import FINAL_ANSWER_REQUEST
    from tooltune.methods.agent_recipe import with_answer_requests

    call = {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function",
                                                                  "function": {"name": "f", "arguments": "{}"}}]}
    answered = [{"id": str(i), "messages": [{"role": "user", "content": f"q{i}"}, call,
                                            {"role": "tool", "content": "{}"},
                                            {"role": "assistant", "content": f"a{i}"}]} for i in range(10)]
    unanswered = [{"id": "x", "messages": [{"role": "user", "content": "q"}, call, {"role": "tool", "content": "{}"}]}]
    examples = answered + unanswered
    half = with_answer_requests(examples, 0.5, seed=3)
    asked = [e for e in half if FINAL_ANSWER_REQUEST in e["messages"]]
    assert len(asked) == 5 and half[-1] == unanswered[0]
    for example in asked:  # the request sits right before the answer, nothing else moved
        original = next(e for e in examples if e["id"] == example["id"])["messages"]
        assert example["messages"] == [*original[:-1], FINAL_ANSWER_REQUEST, original[-1]]
    assert all(FINAL_ANSWER_REQUEST not in e["messages"] for e in examples)  # the input is not changed
    assert with_answer_requests(examples, 0.5, seed=3) == half
    assert [e["id"] for e in with_answer_requests(examples, 0.5, seed=4) if FINAL_ANSWER_REQUEST in e["messages"]] != \
        [e["id"] for e in asked]
    assert with_answer_requests(examples, 0.0, seed=3) == examples
    assert sum(FINAL_ANSWER_REQUEST in e["messages"] for e in with_answer_requests(examples, 1.0, seed=3)) == 10
