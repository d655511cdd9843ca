"""The continual loop on a tiny in-memory Llama: every method fills the accuracy matrix, grows its
components per task, saves a loadable adapter and resumes from its cache."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from tests.train.tiny import tiny_llama, tiny_tokenizer
from tooltune.adapters import load_adapter, read_adapter_config
from tooltune.adapters import TARGET_MODULES, LoRAConfig
from tooltune.adapters.dual_rank import DualRankConfig
from tooltune.methods.continual.config import ContinualConfig, ContinualTask, continual_training
from tooltune.methods.continual.experiment import run_sequence
from tooltune.train.data import split_examples
from tooltune.methods.continual.method import RestorationCallback
from tooltune.methods.continual.scoring import greedy_turn_accuracy, token_accuracy, turn_spans

TOOLS = {
    "get_weather": ("city", ["paris", "berlin", "rome"]),
    "set_volume": ("level", ["1", "2", "3"]),
    "play_music": ("genre", ["jazz", "rock", "jazz"]),
}


def schema(name: str, arg: str) -> dict:
    return {"type": "function", "function": {"name": name, "description": name,
            "parameters": {"type": "object", "properties": {arg: {"type": "string"}}, "required": [arg]}}}


def task(name: str) -> ContinualTask:
    arg, values = TOOLS[name]
    examples = []
    for i, value in enumerate(values * 2):
        call = {"id": "c1", "type": "function", "function": {"name": name, "arguments": json.dumps({arg: value})}}
        examples.append({"messages": [
            {"role": "user", "content": f"please {name} {value}"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
        ], "tools": [schema(name, arg)]})
    train, test = split_examples(examples, 2, seed=1)
    return ContinualTask(name, train, test)


def score(model, tokenizer, examples) -> float:
    return greedy_turn_accuracy(model, tokenizer, examples, max_length=256)


@pytest.mark.parametrize("method", ["data", "seqlora", "olora", "multitask"])
def test_every_method_fills_the_matrix_and_saves_a_loadable_adapter(tmp_path, method: str) -> None:
    tokenizer = tiny_tokenizer(extra_words=["please"])
    tasks = [task("get_weather"), task("set_volume")]
    from tooltune.methods.continual.method import METHODS

    targets = ["q_proj", "v_proj", "down_proj"]
    adapter = dataclasses.replace(METHODS[method].default_adapter(), target_modules=targets)
    if method == "data":
        adapter = DualRankConfig(target_modules=targets, restoration_period=1, restoration_rate=0.1)
    config = ContinualConfig(method=method, output_dir=str(tmp_path), adapter=adapter,
                             train=continual_training(learning_rate=5e-3, max_length=256))
    result = run_sequence(lambda: (tiny_llama(vocab_size=len(tokenizer)), tokenizer), tasks, config, score)
    rows = 1 if method == "multitask" else 2
    assert len(result.matrix) == rows and all(len(r) == 2 for r in result.matrix)
    assert all(0.0 <= v <= 1.0 for r in result.matrix for v in r)
    a = result.matrix
    assert result.metrics.ap == pytest.approx(sum(a[-1]) / 2)
    if method != "multitask":  # by the definitions, not by the function under test
        assert result.metrics.bwt == pytest.approx(a[1][0] - a[0][0])
        assert result.metrics.f_ra == pytest.approx(a[0][0] - a[1][0])
    saved = read_adapter_config(tmp_path / method / "adapter")
    if method in ("data", "olora"):
        assert saved.num_tasks == 2
    if method == "data":
        assert result.restorations == sum(s["global_step"] for s in result.stages)  # period 1: every step
    # the saved adapter reproduces the final row without any task id
    fresh = tiny_llama(vocab_size=len(tokenizer))
    load_adapter(fresh, tmp_path / method / "adapter")
    assert [score(fresh, tokenizer, t.test) for t in tasks] == result.matrix[-1]
    if method != "data":
        return
    # a rerun resumes from the finished stages and cached scores
    again = run_sequence(lambda: (tiny_llama(vocab_size=len(tokenizer)), tokenizer), tasks, config, score)
    assert again.matrix == result.matrix
    assert all(s["global_step"] == t["global_step"] for s, t in zip(again.stages, result.stages))

    # another scorer replays the trained stages and scores them again, without training
    def tokens(model, tok, examples) -> float:
        return token_accuracy(model, tok, examples, max_length=256)

    rescored = run_sequence(lambda: (tiny_llama(vocab_size=len(tokenizer)), tokenizer), tasks, config, tokens,
                            scorer_name="token")
    assert rescored.restorations == 0  # nothing was trained again
    assert rescored.matrix[-1] == [tokens(fresh, tokenizer, t.test) for t in tasks]
    assert (tmp_path / method / "scores-token.jsonl").is_file()


def test_turn_spans_and_bad_inputs() -> None:
    assert turn_spans(torch.tensor([-100, 5, 6, -100, -100, 7])) == [(1, 3), (5, 6)]
    with pytest.raises(ValueError, match="method"):
        ContinualConfig(method="ewc", output_dir="x")
    with pytest.raises(ValueError, match="test_size"):
        split_examples([{"a": 1}], 1)
    with pytest.raises(ValueError, match="train"):
        ContinualTask("empty", [], [{"a": 1}])


def test_restoration_callback_fires_every_period() -> None:
    class Counting:
        def __init__(self) -> None:
            self.calls = 0

        def restore(self) -> int:
            self.calls += 1
            return 3

    class State:
        global_step = 0

    counting = Counting()
    callback = RestorationCallback(counting, period=3)
    state = State()
    for step in range(1, 10):
        state.global_step = step
        callback.on_step_end(None, state, None)
    assert counting.calls == 3 and callback.entries == 9


def test_top_layers_and_compact_router_groups() -> None:
    from tooltune.adapters import inject_adapters
    from tooltune.adapters.dual_rank import DualRankConfig, get_dual_rank
    from tooltune.methods.continual.method import top_layer_targets

    model = tiny_llama()
    targets = top_layer_targets(model, ["q_proj", "down_proj"], 1)
    assert targets == ["model.layers.1.self_attn.q_proj", "model.layers.1.mlp.down_proj"]
    assert top_layer_targets(model, ["q_proj"], None) == ["q_proj"]
    inject_adapters(model, DualRankConfig(target_modules=targets))
    routing = get_dual_rank(model)
    assert routing.router.num_groups == 1 and [m.group for _, m in routing.layers] == [0, 0]


def test_task_files_with_held_out_files_and_first_call_cut(tmp_path) -> None:
    from tooltune.methods.continual.experiment import load_task_files

    t = task("get_weather")
    long = {**t.train[0], "messages": t.train[0]["messages"] + [
        {"role": "tool", "tool_call_id": "c1", "content": "ok"}, {"role": "assistant", "content": "done"}]}
    train_file, test_file = tmp_path / "weather.jsonl", tmp_path / "weather_test.jsonl"
    train_file.write_text("".join(json.dumps(e) + "\n" for e in [long] + t.train[1:]))
    test_file.write_text("".join(json.dumps(e) + "\n" for e in t.test))
    [loaded] = load_task_files([train_file], test_size=1, max_train=3, test_paths=[test_file], first_call_only=True)
    assert loaded.name == "weather" and len(loaded.train) == 3 and len(loaded.test) == 1
    assert all(e["messages"][-1].get("tool_calls") for e in loaded.train + loaded.test)
    with pytest.raises(ValueError, match="test_paths"):
        load_task_files([train_file], 1, test_paths=[])


def _seqlora(tmp_path, tokenizer, **changes) -> ContinualConfig:
    return ContinualConfig(method="seqlora", output_dir=str(tmp_path),
                           train=continual_training(**{"learning_rate": 5e-3, "max_length": 256, **changes}),
                           adapter=LoRAConfig(target_modules=["q_proj", "v_proj"], r=2, alpha=4.0))


def _files(root) -> dict:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_rerun_with_other_settings_is_refused_and_loses_nothing(tmp_path) -> None:
    from tooltune.train.settings import RunDirError

    tokenizer = tiny_tokenizer(extra_words=["please"])
    tasks = [task("get_weather"), task("set_volume")]
    load = lambda: (tiny_llama(vocab_size=len(tokenizer)), tokenizer)  # noqa: E731
    first = run_sequence(load, tasks, _seqlora(tmp_path, tokenizer), score, scorer_name="greedy",
                         scorer_settings={"max_length": 256})
    before = _files(tmp_path)
    with pytest.raises(RunDirError, match=r"training.train.learning_rate: 0.005 -> 0.001"):
        run_sequence(load, tasks, _seqlora(tmp_path, tokenizer, learning_rate=1e-3), score,
                     scorer_name="greedy", scorer_settings={"max_length": 256})
    with pytest.raises(RunDirError, match=r"training.tasks.*->"):  # the same settings, other data
        run_sequence(load, [tasks[0], task("play_music")], _seqlora(tmp_path, tokenizer), score,
                     scorer_name="greedy", scorer_settings={"max_length": 256})
    with pytest.raises(RunDirError, match=r"scorers.greedy.max_length: 256 -> 128"):
        run_sequence(load, tasks, _seqlora(tmp_path, tokenizer), score, scorer_name="greedy",
                     scorer_settings={"max_length": 128})
    assert _files(tmp_path) == before
    again = run_sequence(load, tasks, _seqlora(tmp_path, tokenizer), score, scorer_name="greedy",
                         scorer_settings={"max_length": 256})
    assert again.matrix == first.matrix
    fresh = run_sequence(load, tasks, _seqlora(tmp_path, tokenizer, learning_rate=1e-3), score,
                         scorer_name="greedy", scorer_settings={"max_length": 256}, overwrite=True)
    assert len(fresh.matrix) == 2 and all(s["global_step"] > 0 for s in fresh.stages)


def test_a_half_written_score_row_is_scored_again_and_the_file_stays_valid(tmp_path) -> None:
    tokenizer = tiny_tokenizer(extra_words=["please"])
    tasks = [task("get_weather"), task("set_volume")]
    load = lambda: (tiny_llama(vocab_size=len(tokenizer)), tokenizer)  # noqa: E731
    config = _seqlora(tmp_path, tokenizer)
    first = run_sequence(load, tasks, config, score)
    rows = tmp_path / "seqlora" / "scores-score.jsonl"
    lines = rows.read_text().splitlines()
    rows.write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])  # a crash while the last row was written
    again = run_sequence(load, tasks, config, score)
    assert again.matrix == first.matrix
    assert [json.loads(line)["stage"] for line in rows.read_text().splitlines()] == ["get_weather", "set_volume"]


def test_too_many_router_rows_are_refused_before_anything_is_written(tmp_path) -> None:
    from tooltune.methods.continual.config import ContinualError

    tokenizer = tiny_tokenizer(extra_words=["please"])
    config = ContinualConfig(method="data", output_dir=str(tmp_path / "run"),
                             adapter=DualRankConfig(rows_per_task=20, target_modules=["q_proj"]))
    with pytest.raises(ContinualError, match=r"rows_per_task: 20 rows x 2 tasks exceed the model's embedding size 32"):
        run_sequence(lambda: (tiny_llama(vocab_size=len(tokenizer)), tokenizer), [task("get_weather"),
                     task("set_volume")], config, score)
    assert not any((tmp_path / "run").rglob("*.json"))


def _data(tmp_path) -> ContinualConfig:
    return ContinualConfig(method="data", output_dir=str(tmp_path), train=continual_training(
        learning_rate=5e-3, max_length=256, seed=3), adapter=DualRankConfig(target_modules=["q_proj", "down_proj"],
                                                                             layers_per_group=1, restoration_period=1))


def test_the_backbone_is_bit_identical_after_a_sequence_and_a_seed_gives_bit_identical_adapters(tmp_path) -> None:
    from safetensors.torch import load_file

    tokenizer = tiny_tokenizer(extra_words=["please"])
    tasks = [task("get_weather"), task("set_volume")]
    models = []

    def load():
        models.append(tiny_llama(vocab_size=len(tokenizer)))
        return models[-1], tokenizer

    run_sequence(load, tasks, _data(tmp_path / "a"), score)
    run_sequence(load, tasks, _data(tmp_path / "b"), score)
    base = tiny_llama(vocab_size=len(tokenizer)).state_dict()
    trained = {n: p for n, p in models[0].state_dict().items() if n in base}  # wrapped linears: `.base.` inside
    trained.update({n.replace(".base.", "."): p for n, p in models[0].state_dict().items() if ".base." in n})
    assert set(trained) == set(base) and all(torch.equal(trained[n], base[n]) for n in base)
    first, second = (load_file(tmp_path / d / "data" / "adapter" / "adapter_model.safetensors") for d in "ab")
    assert any("router" in n for n in first) and set(first) == set(second)
    assert all(torch.equal(first[n], second[n]) for n in first)


def _conflicting(name: str, answer: str) -> ContinualTask:
    """The same six questions; each task answers all of them with its own word."""
    rows = [{"messages": [{"role": "user", "content": f"what is in {c}"}, {"role": "assistant", "content": answer}],
             "tools": []} for c in ["paris", "berlin", "rome", "kitchen", "room", "city"]]
    return ContinualTask(name, rows * 4, rows)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="measured: DATA forgets as fully as SeqLoRA here (BWT -1.0 for both, seeds "
                   "0-2); with the same inputs and no task id, a model that answers the new task cannot keep the old one")
def test_data_forgets_less_than_seqlora_on_conflicting_answers(tmp_path) -> None:
    tokenizer = tiny_tokenizer()
    tasks = [_conflicting("a", "hello"), _conflicting("b", "done")]
    bwt = {}
    for method, adapter in [("seqlora", LoRAConfig(target_modules=list(TARGET_MODULES), r=20, alpha=40.0)),
                            ("data", DualRankConfig(layers_per_group=1))]:
        config = ContinualConfig(method=method, output_dir=str(tmp_path), adapter=adapter,
                                 train=continual_training(epochs=3, learning_rate=1e-2, max_length=64))
        result = run_sequence(lambda: (tiny_llama(vocab_size=len(tokenizer)), tokenizer), tasks, config, score)
        assert result.matrix[0][0] == 1.0  # each learns the first task
        bwt[method] = result.metrics.bwt
    assert bwt["data"] > bwt["seqlora"]
