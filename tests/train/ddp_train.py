"""Script for the DDP smoke test: the ordinary `train_stages` call, launched by `accelerate launch`.

Each process writes its world size and a checksum of its trained adapter weights to OUT/rank<N>.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.train.tiny import tiny_llama, tiny_tokenizer  # noqa: E402
from tooltune.adapters import LoRAConfig, adapter_parameters, inject_adapters  # noqa: E402
from tooltune.train import Stage, TrainConfig, train_stages  # noqa: E402


def main(out: Path) -> None:
    tok = tiny_tokenizer()
    model = tiny_llama(len(tok))
    inject_adapters(model, LoRAConfig(target_modules=["q_proj", "v_proj"], r=2))
    examples = [{"messages": [{"role": "user", "content": f"weather in {c}"},
                              {"role": "assistant", "content": f"the weather in {c} is ok"}]}
                for c in ("paris", "berlin", "rome", "paris", "berlin", "rome", "paris", "rome")]
    config = TrainConfig(output_dir=str(out / "run"), batch_size=2, learning_rate=1e-2, max_length=64,
                         disable_tqdm=True)
    results = train_stages(model, tok, [Stage("ddp", examples, epochs=1)], config)
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    checksum = sum(float(p.double().sum()) for p in adapter_parameters(model).values())
    (out / f"rank{rank}.json").write_text(json.dumps({"world_size": world, "checksum": checksum,
                                                      "global_step": results[0].global_step}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
