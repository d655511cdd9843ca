"""O-LoRA baseline adapter: per-task LoRAs, old ones frozen, orthogonality loss, no task id."""

from __future__ import annotations

import torch

from tests.adapters.test_dual_rank import ids, tiny_llama
from tooltune.adapters import auxiliary_losses, inject_adapters, load_adapter, save_adapter
from tooltune.adapters.olora import OLoRAConfig, OLoRALinear, add_olora_task, current_olora_parameter_names


def test_new_task_lora_trains_alone_and_is_pushed_orthogonal(tmp_path) -> None:
    model = tiny_llama()
    config = OLoRAConfig(target_modules=["q_proj", "v_proj"], r=4, alpha=8)
    inject_adapters(model, config)
    x = ids()
    with torch.no_grad():
        base = model(x).logits.clone()
    assert auxiliary_losses(model) is None  # one task: nothing to be orthogonal to
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, OLoRALinear):
                m.lora_B[0].normal_()
    trainable = add_olora_task(model, config)
    assert config.num_tasks == 2
    assert trainable == current_olora_parameter_names(model)
    assert "model.layers.0.self_attn.q_proj.lora_A.1" in trainable
    layer = model.model.layers[0].self_attn.q_proj
    assert not layer.lora_A[0].requires_grad and layer.lora_A[1].requires_grad
    old_a = layer.lora_A[0].detach().clone()
    params = [p for n, p in model.named_parameters() if n in trainable]
    opt = torch.optim.SGD(params, lr=0.01)
    first = float(auxiliary_losses(model).detach())
    for _ in range(20):
        loss = auxiliary_losses(model)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(auxiliary_losses(model).detach()) < 0.5 * first
    assert torch.equal(layer.lora_A[0], old_a)
    with torch.no_grad():
        adapted = model(x).logits.clone()
    assert not torch.allclose(adapted, base, atol=1e-3)
    save_adapter(model, tmp_path / "olora")
    fresh = tiny_llama()
    load_adapter(fresh, tmp_path / "olora")
    with torch.no_grad():
        torch.testing.assert_close(fresh(x).logits, adapted, atol=1e-6, rtol=0)
