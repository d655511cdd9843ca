"""Token-level compression of the knowledge text to a stage's token budget.

LLMLingua-2 is used when the user has both the `llmlingua` package and its model on disk (it is never
downloaded); otherwise an offline compressor keeps the knowledge tokens the student finds most surprising
(highest -log p under the student itself: the tokens it could not have predicted carry the information).
Budgets are counted in the student's tokens. The question is never handed to a compressor.
"""

from __future__ import annotations

import os
from typing import Any, Literal, Protocol

from tooltune.methods.internalize.errors import ComponentMissing, InternalizeError

LLMLINGUA2_MODEL = "microsoft/llmlingua-2-xlm-roberta-large-meetingbank"


class Compressor(Protocol):
    name: str

    def count(self, text: str) -> int: ...

    def compress(self, text: str, budget: int) -> str:
        """`text` shortened to at most `budget` student tokens (unchanged if it already fits)."""
        ...


class _TokenCounter:
    tokenizer: Any

    def count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0


class SurprisalCompressor(_TokenCounter):
    """Keeps the `budget` knowledge tokens of highest surprisal under the student, in their original order."""

    name = "surprisal"

    def __init__(self, model: Any, tokenizer: Any, *, batch_size: int = 16) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self._cache: dict[str, tuple[list[int], list[float]]] = {}

    def _prefix_id(self) -> int:
        for token_id in (self.tokenizer.bos_token_id, self.tokenizer.eos_token_id, self.tokenizer.pad_token_id):
            if token_id is not None:
                return int(token_id)
        raise ValueError("tokenizer needs a bos, eos or pad token to score the first knowledge token")

    def prepare(self, texts: list[str]) -> None:
        """Score many texts in batches (one forward pass per batch); later `compress` calls hit the cache."""
        import torch

        todo = [t for t in dict.fromkeys(texts) if t and t not in self._cache]
        prefix = self._prefix_id()
        device = next(self.model.parameters()).device
        was_training = self.model.training
        self.model.eval()
        try:
            for start in range(0, len(todo), self.batch_size):
                batch = todo[start : start + self.batch_size]
                encoded = [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in batch]
                width = 1 + max(len(ids) for ids in encoded)
                input_ids = torch.full((len(batch), width), prefix, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, ids in enumerate(encoded):
                    input_ids[row, 1 : 1 + len(ids)] = torch.tensor(ids, dtype=torch.long)
                    mask[row, : 1 + len(ids)] = 1
                with torch.no_grad():
                    logits = self.model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits.float()
                logp = torch.log_softmax(logits[:, :-1], dim=-1)
                picked = -logp.gather(-1, input_ids[:, 1:].to(device).unsqueeze(-1)).squeeze(-1)
                for row, (text, ids) in enumerate(zip(batch, encoded)):
                    self._cache[text] = (ids, picked[row, : len(ids)].tolist())
        finally:
            self.model.train(was_training)

    def surprisal(self, text: str) -> tuple[list[int], list[float]]:
        """Token ids of `text` and the surprisal (nats) of each under the student."""
        if text not in self._cache:
            self.prepare([text])
        return self._cache.get(text, ([], []))

    def compress(self, text: str, budget: int) -> str:
        if budget < 0:
            raise ValueError(f"budget must be >= 0, got {budget}")
        ids, scores = self.surprisal(text)
        if budget >= len(ids):
            return text
        order = sorted(range(len(ids)), key=lambda i: (-scores[i], i))
        # Decoding a subset can re-tokenize to more tokens (merged fragments); shrink until it fits.
        for keep in range(budget, 0, -1):
            out = self.tokenizer.decode([ids[i] for i in sorted(order[:keep])])
            if self.count(out) <= budget:
                return out
        return ""


def llmlingua_model_path() -> str | None:
    """A local LLMLingua-2 model: $TOOLTUNE_LLMLINGUA_MODEL, else the Hugging Face cache; never downloads."""
    try:
        import llmlingua  # noqa: F401
    except ImportError:
        return None
    configured = os.environ.get("TOOLTUNE_LLMLINGUA_MODEL")
    if configured:
        return configured if os.path.isdir(configured) else None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(LLMLINGUA2_MODEL, "config.json")
    return os.path.dirname(found) if isinstance(found, str) else None


class LLMLinguaCompressor(_TokenCounter):
    """LLMLingua-2 token classification at rate budget/n, trimmed to the student-token budget."""

    name = "llmlingua2"

    def __init__(self, tokenizer: Any, model_path: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from llmlingua import PromptCompressor

        self.tokenizer = tokenizer
        self._compressor = PromptCompressor(model_name=model_path, use_llmlingua2=True, device_map="cpu")

    def compress(self, text: str, budget: int) -> str:
        if budget < 0:
            raise ValueError(f"budget must be >= 0, got {budget}")
        total = self.count(text)
        if budget >= total:
            return text
        if budget == 0:
            return ""
        out = self._compressor.compress_prompt([text], rate=budget / total)["compressed_prompt"]
        # LLMLingua measures the rate in its own tokens; drop trailing words until the student's count fits.
        kept = out.split()
        while kept and self.count(" ".join(kept)) > budget:
            kept.pop()
        return " ".join(kept)


CompressorKind = Literal["auto", "surprisal", "llmlingua"]


def compressor_path(kind: CompressorKind) -> str | None:
    """The LLMLingua-2 model `kind` will use (None: the surprisal compressor); an error, before any model is
    loaded, when `kind` cannot be had."""
    if kind not in ("auto", "surprisal", "llmlingua"):
        raise InternalizeError(f"compressor must be 'auto', 'surprisal' or 'llmlingua', got {kind!r}")
    path = llmlingua_model_path() if kind != "surprisal" else None
    if kind == "llmlingua" and path is None:
        raise ComponentMissing(
            "compressor 'llmlingua' needs the llmlingua package and a local LLMLingua-2 model "
            f"({LLMLINGUA2_MODEL} in the Hugging Face cache or $TOOLTUNE_LLMLINGUA_MODEL); tooltune never downloads it"
        )
    return path


def make_compressor(kind: CompressorKind, model: Any, tokenizer: Any) -> Compressor:
    """`auto`: LLMLingua-2 when installed with its model, else the student-surprisal compressor."""
    path = compressor_path(kind)
    if path is not None:
        return LLMLinguaCompressor(tokenizer, path)
    return SurprisalCompressor(model, tokenizer)
