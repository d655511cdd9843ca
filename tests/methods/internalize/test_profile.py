"""Profile internalization data: the gold trajectory's system message holds the profile compressed to S_t."""

import json

import pytest

from tests.methods.internalize.conftest import make_tiny_llama
from tooltune.methods.internalize.compress import SurprisalCompressor
from tooltune.methods.internalize.config import ProfileConfig
from tooltune.methods.internalize.profile import profile_text, split_cases, stage_example, user_cases
from tooltune.methods.internalize.profile_eval import argument_accuracy
from tooltune.methods.internalize.schedule import DecaySchedule


@pytest.fixture(scope="module")
def suite():
    from tooltune.sandbox.suite import builtin_suite

    return builtin_suite()


def test_stage_examples_decay_the_profile_away(suite, tiny_model, tiny_tokenizer):
    from tooltune.sandbox.prompts import system_prompt

    case = user_cases(suite, suite.users[0].id)[0]
    compressor = SurprisalCompressor(tiny_model, tiny_tokenizer)
    profile = profile_text(case)
    n = compressor.count(profile)
    plans = DecaySchedule(stages=3, examples=0).plans()
    examples = [stage_example(case, plan, compressor) for plan in plans]
    systems = [e["messages"][0]["content"] for e in examples]
    assert profile in systems[0] and systems[0] == system_prompt(case, include_profile=True)
    assert systems[-1] == system_prompt(case, include_profile=False) and "User profile" not in systems[-1]
    middle = systems[1].split("User profile:\n", 1)[1]
    assert profile not in systems[1] and 0 < compressor.count(middle) <= plans[1].knowledge_budget(n)
    # the rest of the trajectory (query, gold tool calls, answer) is the same at every stage
    assert all(e["messages"][1:] == examples[0]["messages"][1:] for e in examples)
    assert examples[0]["messages"][1]["content"] == case.instruction.query
    assert [t["function"]["name"] for t in examples[0]["tools"]] == list(case.instruction.tools)


def test_split_holds_out_instructions_and_validates(suite):
    cases = user_cases(suite, suite.users[1].id)
    train, test = split_cases(cases, 2, 2, seed=0)
    assert len(train) == 2 and len(test) == 2
    assert not {c.instruction.id for c in train} & {c.instruction.id for c in test}
    assert all(any(k.kind == "personal" and k.check for k in c.instruction.keypoints) for c in test)
    with pytest.raises(ValueError, match="n_train"):
        split_cases(cases, len(cases), 1, seed=0)
    with pytest.raises(ValueError, match="user"):
        user_cases(suite, "nobody_here")
    music = user_cases(suite, suite.users[1].id, ["music", "smart_home"])
    assert music and all(set(c.instruction.apps) <= {"music", "smart_home"} for c in music)
    with pytest.raises(ValueError, match="apps"):
        user_cases(suite, suite.users[1].id, ["teleport"])


def test_argument_accuracy_gives_partial_credit():
    details = [
        {"gold": [("play_music", {"music_name": "A", "volume_level": 35})], "predicted": [("play_music", {"music_name": "B", "volume_level": 35})]},
        {"gold": [("control_light_in_home", {"room": "living room", "brightness": 40})], "predicted": [("play_music", {"room": "living room"})]},
    ]
    assert argument_accuracy(details) == 1 / 4
    assert argument_accuracy([]) == 0.0


def test_profile_config_names_bad_fields():
    with pytest.raises(ValueError, match="stages"):
        ProfileConfig(train={"output_dir": "x"}, user="u", stages=1)
    config = ProfileConfig(train={"output_dir": "x"}, user="u")
    assert (config.train.batch_size, config.train.max_length, config.lora.r) == (1, 2048, 32)  # the profile's own


@pytest.mark.slow
def test_tiny_profile_experiment_end_to_end(tmp_path, tiny_tokenizer, suite):
    from tooltune.methods.internalize.profile import run_profile_experiment

    def load_student():
        return make_tiny_llama(tiny_tokenizer, max_positions=8192), tiny_tokenizer

    config = ProfileConfig(train={"output_dir": str(tmp_path), "epochs": 2, "max_length": 4096}, user=suite.users[0].id,
                           n_train=1, n_test=1, stages=2, compressor="surprisal", lora={"r": 2, "alpha": 4},
                           max_turns=1, max_new_tokens=8)
    report = run_profile_experiment(config, load_student, lambda event: None)
    rows = {r["condition"]: r for r in report["results"]}
    assert set(rows) == {"untrained, profile in prompt", "untrained, no profile", "profile internalized, no profile",
                         "profile internalized, profile in prompt", "trained without profile, no profile"}
    assert all(r["personal_decided"] >= 1 and 0 <= r["personal_passed"] <= r["personal_decided"] for r in rows.values())
    assert all(r["call_positions"] >= 1 and 0 <= r["argument_accuracy"] <= 1 for r in rows.values())
    with_profile = rows["untrained, profile in prompt"]["first_turn_prompt_tokens"]
    assert with_profile > rows["profile internalized, no profile"]["first_turn_prompt_tokens"]
    assert (tmp_path / "skintern" / "adapter" / "adapter_model.safetensors").is_file()
    metadata = json.loads((tmp_path / "skintern" / "adapter" / "adapter_config.json").read_text())["metadata"]
    assert metadata == {"method": "internalize", "user": suite.users[0].id, "apps": [], "profile_in_prompt": False}
    assert (tmp_path / "table.txt").is_file() and report["test"] and report["train"] != report["test"]
