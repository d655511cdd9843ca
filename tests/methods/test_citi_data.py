"""CITI's general data: the mix, the labels found again in each forward, replay, the CL benchmark's tasks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.train.tiny import tiny_llama, tiny_tokenizer, tool_example
from tooltune.adapters import TARGET_MODULES, MoLoRAConfig, inject_adapters
from tooltune.adapters.molora import GENERAL, TOOL, UNLABELLED, MoLoRALinear
from tooltune.methods.citi.data import SampleKinds, general_count, replay_prompts, replay_rows
from tooltune.methods.citi.method import mixed_rows
from tooltune.train.data import PaddingCollator, encode_examples

CL_ROOT = Path(__file__).resolve().parents[3] / "shared" / "cl_benchmark"
CHAT = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": "ok"}]} for q in ("hi", "hello")]


def test_the_share_sets_how_many_general_rows_join_the_tool_rows() -> None:
    assert general_count(300, 0.25) == 100 and general_count(10, 0.0) == 0
    tool = [tool_example(c) for c in ("paris", "rome")]
    mixed = mixed_rows(tool, {"chat": CHAT}, seed=1)
    assert sorted(map(str, mixed)) == sorted(map(str, tool + CHAT)) and mixed == mixed_rows(tool, {"chat": CHAT}, 1)


def test_every_batch_row_gets_its_label_in_the_forward() -> None:
    tok = tiny_tokenizer()
    model = tiny_llama(len(tok))
    inject_adapters(model, MoLoRAConfig(target_modules=list(TARGET_MODULES)))
    tool = [tool_example("paris")]
    kinds = SampleKinds(tok, tool, CHAT, max_length=512)
    stranger = [{"messages": [{"role": "user", "content": "rock"}, {"role": "assistant", "content": "jazz"}]}]
    batch = PaddingCollator(tok.pad_token_id)(encode_examples(tok, [CHAT[0], *tool, *stranger], 512))
    handle = kinds.attach(model)
    model(**batch)
    handle.remove()
    layer = next(m for m in model.modules() if isinstance(m, MoLoRALinear))
    labels, mask = layer.routing_labels
    assert labels.tolist() == [GENERAL, TOOL, UNLABELLED] and torch.equal(mask, batch["attention_mask"])


def test_replay_rows_are_the_models_own_answers() -> None:
    tok = tiny_tokenizer()
    prompts = replay_prompts(3, seed=0)
    assert len(prompts) == 3 and prompts == replay_prompts(3, seed=0) and prompts != replay_prompts(3, seed=1)
    rows = replay_rows(tiny_llama(len(tok)), tok, ["hello", "what is jazz"], max_new_tokens=4)
    assert all(r["messages"][0]["role"] == "user" and r["messages"][1]["content"] for r in rows)


@pytest.mark.skipif(not CL_ROOT.is_dir(), reason="needs ../shared/cl_benchmark (the O-LoRA CL_Benchmark slice)")
def test_held_out_tasks_become_zero_shot_items() -> None:
    from tooltune.methods.citi.data import instruction_rows
    from tooltune.methods.citi.metrics import task_items
    from tooltune.methods.continual.cl_benchmark import load_cl_task

    rows = instruction_rows(CL_ROOT, ["TC/agnews"], per_task=5)
    assert len(rows["TC/agnews"]) == 5
    items = task_items(tiny_tokenizer(), load_cl_task(CL_ROOT, "TC/dbpedia", "test"), count=10)
    assert len(items) == 10 and all(len(i.choices) > 2 and i.choices[i.answer] for i in items)
