"""Gradient-based importance of each component (layer x linear module) for an ability, as in CITI:
the paper's I(W) = |W^T dL/dW| = |sum_ij W_ij * dL/dW_ij| over the ability's data (the gradient of the whole
data: signed products summed over batches, absolute value at the end; aggregate "dot"), or, per batch,
sum_ij |W_ij * dL/dW_ij| ("sum") or its mean over the module ("mean", no size advantage) averaged over batches.
Several abilities are combined by normalising each to sum 1 and averaging (CITI's general importance).

Saved as JSON, drawn as a layer x module heat map (SVG, no plotting library needed).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from tqdm.auto import tqdm

from tooltune.adapters import TARGET_MODULES
from tooltune.atomic import write_json_atomic
from tooltune.train.data import Example, Formatter, PaddingCollator, encode_examples, pad_token_id

_COMPONENT = re.compile(r"(?:^|\.)layers\.(\d+)\.(?:[A-Za-z_]+\.)*([A-Za-z_]+)$")
Aggregate = Literal["dot", "sum", "mean"]
AGGREGATES: tuple[Aggregate, ...] = ("dot", "sum", "mean")
"""The paper's formula first."""


@dataclass
class ImportanceScores:
    """Importance of each component for one ability; `scores` maps module path -> score."""

    ability: str
    scores: dict[str, float]
    aggregate: Aggregate = "dot"
    batches: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def ranked(self, kind: str | None = None) -> list[str]:
        """Module paths from most to least important (optionally only those ending in `kind`)."""
        names = [n for n in self.scores if kind is None or n.endswith("." + kind)]
        return sorted(names, key=lambda n: (-self.scores[n], n))

    def grid(self) -> tuple[list[int], list[str], dict[tuple[int, str], float]]:
        """(layers, module kinds, {(layer, kind): score}) for tables and heat maps."""
        cells = {}
        for name, score in self.scores.items():
            match = _COMPONENT.search(name)
            if match:
                cells[(int(match.group(1)), match.group(2))] = score
        layers = sorted({layer for layer, _ in cells})
        kinds = sorted({kind for _, kind in cells}, key=lambda k: component_sort_key(f"layers.0.{k}")[1:])
        return layers, kinds, cells

    def to_dict(self) -> dict[str, Any]:
        return {"ability": self.ability, "aggregate": self.aggregate, "batches": self.batches,
                "meta": self.meta, "scores": self.scores}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportanceScores:
        for key in ("ability", "scores"):
            if key not in data:
                raise ValueError(f"importance JSON: field {key!r} is missing")
        return cls(data["ability"], {k: float(v) for k, v in data["scores"].items()}, data.get("aggregate", "sum"),
                   int(data.get("batches", 0)), dict(data.get("meta", {})))


def component_sort_key(name: str) -> tuple[int, int, str]:
    """Model order of a component path: layer, then q, k, v, o, gate, up, down."""
    match = _COMPONENT.search(name)
    if not match:
        return (1 << 30, 0, name)
    kind = match.group(2)
    return (int(match.group(1)), TARGET_MODULES.index(kind) if kind in TARGET_MODULES else len(TARGET_MODULES), name)


def component_names(model: nn.Module) -> list[str]:
    """Paths of the per-layer linear modules (the components CITI ranks), in model order."""
    return [name for name, module in model.named_modules()
            if isinstance(module, nn.Linear) and _COMPONENT.search(name)]


def compute_importance(model: nn.Module, tokenizer: Any, examples: Sequence[Example], ability: str,
                       max_length: int = 512, batch_size: int = 4, max_batches: int | None = None,
                       aggregate: Aggregate = "dot", formatter: Formatter | None = None) -> ImportanceScores:
    """Score every component on `examples` (SFT conversations or pre-encoded {"input_ids","labels"} rows).

    Gradients are taken batch by batch and reduced per module as `aggregate` says (module docstring). The
    model's parameters and requires_grad flags are left as they were.
    """
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}")
    modules = {name: model.get_submodule(name) for name in component_names(model)}
    if not modules:
        raise ValueError("model: no per-layer nn.Linear components (names like 'layers.N.*.q_proj') found")
    data = encode_examples(tokenizer, examples, max_length, formatter)
    collate = PaddingCollator(pad_token_id(tokenizer))
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    was_training = model.training
    for param in model.parameters():
        param.requires_grad_(False)
    for module in modules.values():
        module.weight.requires_grad_(True)
    model.eval()  # no dropout: the score should not depend on a random mask
    device = next(model.parameters()).device
    totals = dict.fromkeys(modules, 0.0)
    starts = list(range(0, len(data), batch_size))[:max_batches]
    try:
        for start in tqdm(starts, desc=f"importance ({ability})", leave=False):
            batch = {k: v.to(device) for k, v in collate(data[start:start + batch_size]).items()}
            model.zero_grad(set_to_none=True)
            model(**batch).loss.backward()
            with torch.no_grad():
                for name, module in modules.items():
                    totals[name] += module_score(module.weight, module.weight.grad, aggregate)
    finally:
        model.zero_grad(set_to_none=True)
        for name, param in model.named_parameters():
            param.requires_grad_(flags[name])
        model.train(was_training)
    scores = {name: (abs(total) if aggregate == "dot" else total) / len(starts) for name, total in totals.items()}
    return ImportanceScores(ability, scores, aggregate, len(starts), {"examples": len(data)})


def module_score(weight: torch.Tensor, grad: torch.Tensor, aggregate: Aggregate) -> float:
    """One batch's contribution: the signed sum of theta * grad ("dot", its absolute value is taken over all
    batches), or the sum or mean of |theta * grad|."""
    product = weight.float() * grad.float()
    if aggregate == "dot":
        return float(product.sum())
    return float(product.abs().sum() if aggregate == "sum" else product.abs().mean())


def average_normalised(scores: Sequence[ImportanceScores], ability: str) -> ImportanceScores:
    """One ability's scores from several: each normalised to sum 1 over the components, then averaged
    (components scored by some abilities only count as 0 in the others)."""
    if not scores:
        raise ValueError("scores: nothing to average")
    names = sorted({n for s in scores for n in s.scores})
    average = dict.fromkeys(names, 0.0)
    for item in scores:
        total = sum(item.scores.values()) or 1.0
        for name, value in item.scores.items():
            average[name] += value / total / len(scores)
    meta = {"abilities": [s.ability for s in scores], "batches": [s.batches for s in scores]}
    return ImportanceScores(ability, average, scores[0].aggregate, sum(s.batches for s in scores), meta)


def save_importance(scores: Sequence[ImportanceScores], path: str | Path) -> Path:
    """Write one JSON file holding the scores of several abilities."""
    return write_json_atomic(path, {"abilities": [s.to_dict() for s in scores]})


def load_importance(path: str | Path) -> dict[str, ImportanceScores]:
    """Ability name -> scores, from a file written by `save_importance`."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or not isinstance(data.get("abilities"), list):
        raise ValueError(f"{path}: field 'abilities' (a list) is missing")
    loaded = [ImportanceScores.from_dict(item) for item in data["abilities"]]
    return {s.ability: s for s in loaded}


def heatmap_svg(scores: ImportanceScores, cell: int = 22) -> str:
    """A layer (rows) x module (columns) heat map; colour = score normalised to the largest, darker = more."""
    layers, kinds, cells = scores.grid()
    top = max(cells.values(), default=0.0) or 1.0
    left, head = 60, 90
    width, height = left + cell * len(kinds) + 10, head + cell * len(layers) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             'font-size="11">',
             f'<text x="{left}" y="16" font-size="13">{html.escape(scores.ability)} importance ({scores.aggregate} '
             'of θ·∇θ)</text>']
    for j, kind in enumerate(kinds):
        x = left + j * cell + cell / 2
        parts.append(f'<text transform="translate({x:.0f},{head - 6}) rotate(-60)">{html.escape(kind)}</text>')
    for i, layer in enumerate(layers):
        y = head + i * cell
        parts.append(f'<text x="{left - 6}" y="{y + cell * 0.7:.0f}" text-anchor="end">layer {layer}</text>')
        for j, kind in enumerate(kinds):
            value = cells.get((layer, kind))
            shade = 255 if value is None else int(255 - 215 * value / top)
            title = "n/a" if value is None else f"{value:.4g}"
            parts.append(f'<rect x="{left + j * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                         f'fill="rgb({shade},{shade},255)"><title>layer {layer} {kind}: {title}</title></rect>')
    parts.append("</svg>")
    return "\n".join(parts)
