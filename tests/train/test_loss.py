"""The trained-token loss: the same value and gradients as HF's causal-LM loss, with the head on fewer rows."""

from __future__ import annotations

import torch
from transformers import Trainer

from tests.train.tiny import tiny_llama, tiny_tokenizer
from tooltune.adapters import LoRAConfig, inject_adapters
from tooltune.train import PaddingCollator, Stage, ToolTuneTrainer, TrainConfig, encode_examples
from tooltune.train.loss import accepts_logits_to_keep, next_token_mask, trained_token_loss
from tooltune.train.trainer import training_arguments

EXAMPLES = [{"messages": [{"role": "user", "content": f"weather in {city} please"},
                          {"role": "assistant", "content": f"the weather in {city} is ok"}]}
            for city in ("paris", "berlin", "rome", "paris")]


def batch_and_model():
    tok = tiny_tokenizer()
    model = tiny_llama(len(tok))
    batch = PaddingCollator(tok.pad_token_id)(encode_examples(tok, EXAMPLES, 64))
    assert (batch["labels"] == -100).any() and (batch["labels"] != -100).any()  # prompts masked, answers trained
    return tok, model, batch


def grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_kept_rows_give_hf_loss_and_gradients() -> None:
    _, model, batch = batch_and_model()
    assert accepts_logits_to_keep(model)
    model.train()
    reference = model(**batch).loss
    reference.backward()
    expected = grads(model)
    model.zero_grad()
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    mask = next_token_mask(batch["labels"])
    outputs = model(**inputs, logits_to_keep=mask)
    assert outputs.logits.shape[0] == int(mask.sum()) < batch["input_ids"].numel()  # fewer rows reach the head
    loss = trained_token_loss(outputs, batch["labels"])
    loss.backward()
    torch.testing.assert_close(loss, reference)
    for name, grad in grads(model).items():
        torch.testing.assert_close(grad, expected[name], atol=1e-6, rtol=1e-5)
    full = trained_token_loss(model(**inputs), batch["labels"])  # full logits are read the same way
    torch.testing.assert_close(full, reference)
    count = int((batch["labels"][:, 1:] != -100).sum())
    torch.testing.assert_close(trained_token_loss(outputs, batch["labels"], num_items_in_batch=2 * count),
                               reference / 2)  # normalised by the accumulated batch's tokens when given


def test_trainer_steps_match_hf_default_loss(tmp_path) -> None:
    """Two optimizer steps with gradient accumulation: the same adapters as the stock HF loss path."""
    results = []
    for loss_func in (trained_token_loss, None):
        tok = tiny_tokenizer()
        model = tiny_llama(len(tok))
        inject_adapters(model, LoRAConfig(target_modules=["q_proj", "down_proj"], r=2, alpha=4.0), seed=0)
        config = TrainConfig(output_dir=str(tmp_path / str(loss_func)), batch_size=1, grad_accum=2, learning_rate=1e-2,
                             disable_tqdm=True, max_length=64, max_steps=2, save_total_limit=1)
        data = encode_examples(tok, EXAMPLES, 64)
        for name, param in model.named_parameters():
            param.requires_grad_("lora" in name)
        trainer = ToolTuneTrainer(model=model, args=training_arguments(config, Stage("s", EXAMPLES), tmp_path / "x"),
                                  train_dataset=data, data_collator=PaddingCollator(tok.pad_token_id),
                                  compute_loss_func=loss_func)
        assert trainer._head_on_trained_only == (loss_func is not None)
        trainer.train()
        results.append({n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad})
    assert results[0].keys() == results[1].keys() and results[0]
    for name in results[0]:
        torch.testing.assert_close(results[0][name], results[1][name], atol=1e-6, rtol=1e-5)
    assert isinstance(trainer, Trainer)
