"""A ChatModel over any local Hugging Face causal LM whose tokenizer has a chat template.

Tools go through the template's own `tools=` support when it renders them (Qwen, Llama 3, ...), and
through the prompted `<tool_call>` text protocol otherwise (SmolLM2). `chat_batch` left-pads all prompts
and runs one `generate` call, so a batch of greedy answers equals the same answers one by one.

`tool_choice` (and a request's `constraint`, e.g. ReAct) is enforced per row with a grammar
(`models/grammar.py`): calls are schema-valid once started, `required` / a named function force calls,
`none` keeps the tools visible but makes `<tool_call>` impossible (its answer is not read for calls).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tooltune.models.base import ChatModel, ModelError
from tooltune.models.prefix_cache import PrefixCache, build_batch_cache, row_prefix, supports_prefix_cache
from tooltune.models.text_protocol import arguments_as_dict, content_text, render_text_protocol
from tooltune.models.toolcall_parser import TOOL_CALL_CLOSE, TOOL_CALL_OPEN, parse_tool_calls
from tooltune.models.types import (
    AssistantMessage,
    ChatRequest,
    GenerationConfig,
    Message,
    ToolChoice,
    ToolConstraint,
    ToolSchema,
    Usage,
)

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from tooltune.models.grammar import GrammarLogitsProcessor, ToolGrammars

ToolMode = Literal["auto", "native", "text"]
CALL_COMPLETION_TOKENS = 256  # extra tokens a call begun under a grammar may take to close past max_new_tokens
CALL_CLOSE_AFTER = 64  # of those, after this many only tokens that close strings/objects/arrays are taken where allowed
_PROBE_TOOL = "tooltune_probe_tool_7f3a"


class HFChatModel(ChatModel):
    """Chat, tools and batched generation over a transformers model + tokenizer pair."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        name: str = "hf",
        tool_mode: ToolMode = "auto",
        adapter: str | Path | None = None,
        constrained: bool = True,
        prefix_cache: bool = False,
    ) -> None:
        """`constrained`: enforce tool_choice / constraints with a grammar (False: the prompt only asks).
        `prefix_cache`: reuse the keys/values of prompt prefixes seen before (models/prefix_cache.py); only for a
        model whose weights no longer change (not while it trains)."""
        if not getattr(tokenizer, "chat_template", None):
            raise ModelError(f"{name}: the tokenizer has no chat_template; tooltune needs a chat/instruct model")
        if tool_mode not in ("auto", "native", "text"):
            raise ValueError(f"tool_mode must be 'auto', 'native' or 'text', got {tool_mode!r}")
        if adapter is not None:
            model = attach_adapter(model, adapter)
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.native_tools = template_renders_tools(tokenizer) if tool_mode == "auto" else tool_mode == "native"
        self.constrained = constrained
        # a grammar for <tool_call> blocks fits the text protocol, and native templates that write them (Qwen)
        self.tool_call_tags = not self.native_tools or template_writes_tool_call_tags(tokenizer)
        self.load_seconds: float | None = None
        self._stop_support: dict[tuple[str, ...], bool] = {}
        self._grammars: ToolGrammars | None = None
        self._closing: list[int] | None = None
        self._warned_format = False
        self.prefix_cache = PrefixCache() if prefix_cache and supports_prefix_cache(model) else None
        self.appends_in_place = supports_prefix_cache(model)  # a GrowingCache: no copy of the cache per token

    @classmethod
    def from_pretrained(
        cls, path: str | Path, *, adapter: str | Path | None = None, tool_mode: ToolMode = "auto",
        dtype: str | None = "auto", **model_kwargs: Any
    ) -> HFChatModel:
        """Load a checkpoint directory (config.json + weights + tokenizer with a chat template);
        `dtype`: auto | float32 | bfloat16 (see `tooltune.models.dtype`)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from tooltune.models.dtype import resolve_dtype

        model_kwargs.setdefault("dtype", resolve_dtype(dtype))

        path = Path(path)
        if not (path / "config.json").is_file():
            hint = " (it holds an adapter: pass the base model and adapter=...)" if (path / "adapter_config.json").is_file() else ""
            raise ModelError(f"{path}: not a Hugging Face checkpoint directory, config.json is missing{hint}")
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModelForCausalLM.from_pretrained(path, **model_kwargs)
        except (OSError, ValueError) as exc:
            raise ModelError(f"{path}: could not load the model or tokenizer: {exc}") from exc
        return cls(model, tokenizer, name=str(path), tool_mode=tool_mode, adapter=adapter, prefix_cache=True)

    def chat(
        self, messages: list[Message], tools: list[ToolSchema] | None = None, config: GenerationConfig | None = None,
        *, tool_choice: ToolChoice | None = None,
    ) -> AssistantMessage:
        return self.chat_batch([ChatRequest(messages, tools, tool_choice)], config)[0]

    def chat_batch(self, requests: list[ChatRequest], config: GenerationConfig | None = None) -> list[AssistantMessage]:
        """All conversations in one left-padded `generate` call; each row under its own tool constraint."""
        if not requests:
            return []
        import torch

        config = config or GenerationConfig()
        prompts = [self.render_prompt(r.messages, r.tools, r.tool_choice) for r in requests]
        constraints = [r.tool_constraint() for r in requests]
        generate_kwargs = self._generate_kwargs(config)
        processor = self.grammar_processor(constraints)
        if processor is not None:
            from transformers import LogitsProcessorList

            generate_kwargs["logits_processor"] = LogitsProcessorList([processor])
        batch = self.tokenizer(
            prompts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False
        ).to(self.device)
        if config.seed is not None:
            torch.manual_seed(config.seed)
        cache = self._start_cache(batch)
        if cache is not None:  # (an explicit None would switch generate's own cache off)
            generate_kwargs["cache"] = cache
        if self.prefix_cache is not None:
            generate_kwargs["return_dict_in_generate"] = True
        output = self._generate(**batch, **generate_kwargs)
        if self.prefix_cache is not None:
            self._remember_prefixes(batch, output.sequences, output.past_key_values)
            output = output.sequences
        new_tokens = [row.tolist() for row in output[:, batch["input_ids"].shape[1] :]]
        prompt_lengths = batch["attention_mask"].sum(dim=1).tolist()
        if processor is not None:
            self._finish_open_calls(batch, new_tokens, processor, constraints, config)
        return [
            self._answer(row, int(prompt_len), constraint, config)
            for row, prompt_len, constraint in zip(new_tokens, prompt_lengths, constraints)
        ]

    def _generate(self, **kwargs: Any) -> Any:
        """`model.generate` in eval mode without autograd; the model's training flag is restored after (it may
        be mid-training: evaluation callbacks)."""
        import torch

        from tooltune.models.attention import cpu_attention

        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode(), cpu_attention(self.model):
                return self.model.generate(**kwargs)
        finally:
            self.model.train(was_training)

    def _answer_length(self, token_ids: list[int]) -> int:
        """Generated tokens before the first stop token (all of them when none was produced)."""
        stops = self._stop_ids()
        return next((i for i, token in enumerate(token_ids) if token in stops), len(token_ids))

    def _start_cache(self, batch: Any) -> Any:
        """The cache generation starts from: the batch's reused prefixes, else an empty one that appends in place
        (None: generate's own)."""
        cache = self._reused_prefixes(batch)
        if cache is None and self.appends_in_place:
            from tooltune.models.kv_cache import GrowingCache

            cache = GrowingCache()
        return cache

    def _reused_prefixes(self, batch: Any) -> Any:
        """A cache holding the longest prefixes of this batch's prompts seen before (None: nothing to reuse)."""
        if self.prefix_cache is None:
            return None
        width = batch["input_ids"].shape[1]
        pads = (batch["attention_mask"] == 0).sum(dim=1).tolist()
        rows = [self.prefix_cache.lookup(batch["input_ids"][i, pad:]) for i, pad in enumerate(pads)]
        like = next((entry for entry, _ in rows if entry is not None), None)
        cache, length = build_batch_cache(rows, pads, width, like) if like is not None else (None, 0)
        reused = sum(max(0, length - pad) for pad in pads)
        self.prefix_cache.reused_tokens += reused
        self.prefix_cache.computed_tokens += int(batch["attention_mask"].sum()) - reused
        return cache

    def _remember_prefixes(self, batch: Any, sequences: Any, past: Any) -> None:
        """Store each row's prompt + answer keys/values (up to its stop token) for later prompts."""
        width = batch["input_ids"].shape[1]
        cached = past.get_seq_length()
        for row, pad in enumerate((batch["attention_mask"] == 0).sum(dim=1).tolist()):
            end = min(width + self._answer_length(sequences[row, width:].tolist()), cached)
            keys, values = row_prefix(past, row, pad, end)
            self.prefix_cache.store(sequences[row, pad:end], keys, values)

    def _finish_open_calls(self, batch: Any, new_tokens: list[list[int]], processor: GrammarLogitsProcessor,
                           constraints: list[ToolConstraint | None], config: GenerationConfig) -> None:
        """Rows whose token budget ran out inside a constrained call get up to CALL_COMPLETION_TOKENS more,
        under the same grammar state, so a call once started is always complete (extended in place)."""
        import torch

        from tooltune.models.grammar import PreferClosing, call_left_open

        rows = [i for i, (tokens, constraint) in enumerate(zip(new_tokens, constraints))
                if constraint is not None and processor.active(i) and self._answer_length(tokens) == len(tokens)
                and call_left_open(self.tokenizer.decode(tokens, skip_special_tokens=False), constraint)]
        if not rows:
            return
        prompts = [[t for t, keep in zip(batch["input_ids"][i].tolist(), batch["attention_mask"][i].tolist()) if keep]
                   + new_tokens[i] for i in rows]
        width = max(len(p) for p in prompts)
        pad = self._pad_id()
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device)
        attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        from transformers import LogitsProcessorList

        kwargs = {**self._generate_kwargs(config), "max_new_tokens": CALL_COMPLETION_TOKENS,
                  "logits_processor": LogitsProcessorList([processor.continuation(rows),
                                                           PreferClosing(self._closing_ids(), CALL_CLOSE_AFTER)])}
        kwargs.pop("stop_strings", None)
        kwargs.pop("tokenizer", None)
        if all(constraints[i].format == "tool_call" for i in rows) and self._can_stop_early((TOOL_CALL_CLOSE,)):
            kwargs.update(stop_strings=[TOOL_CALL_CLOSE], tokenizer=self.tokenizer)  # finish the call, no more
        more = self._generate(input_ids=input_ids, attention_mask=attention, **kwargs)
        for row, extra in zip(rows, more[:, width:].tolist()):
            new_tokens[row] = new_tokens[row] + extra

    def _closing_ids(self) -> list[int]:
        """The tokens that close a JSON string, object or array (computed once per model)."""
        if self._closing is None:
            from tooltune.models.grammar import closing_token_ids

            self._closing = closing_token_ids(self.tokenizer, self.tool_grammars().info.vocab_size)
        return self._closing

    def grammar_processor(self, constraints: list[ToolConstraint | None]) -> GrammarLogitsProcessor | None:
        """The logits processor enforcing each row's constraint; None when no row is constrained."""
        enforceable = [c if c is not None and (c.format == "react" or self.tool_call_tags) else None
                       for c in constraints]
        if self.constrained and not self.tool_call_tags and not self._warned_format and any(
                c is not None and c.format == "tool_call" for c in constraints):
            self._warned_format = True
            warnings.warn(f"{self.name}: the chat template writes tool calls in its own format, not <tool_call> "
                          "blocks; tool_choice is not enforced by a grammar for it", stacklevel=2)
        if not self.constrained or all(c is None for c in enforceable):
            return None
        return self.tool_grammars().logits_processor(enforceable)

    def tool_grammars(self) -> ToolGrammars:
        """The grammar compiler for this tokenizer and model head (built once, cached per tokenizer)."""
        if self._grammars is None:
            from tooltune.models.grammar import tool_grammars

            head = self.model.get_output_embeddings()
            vocab_size = getattr(head, "out_features", None) or self.model.config.vocab_size
            blocked = self.tokenizer.convert_tokens_to_ids(sorted(control_tokens(self.tokenizer)))
            self._grammars = tool_grammars(self.tokenizer, int(vocab_size), sorted(self._stop_ids()), blocked)
        return self._grammars

    def render_prompt(
        self, messages: list[Message], tools: list[ToolSchema] | None = None, tool_choice: ToolChoice | None = None
    ) -> str:
        """The exact prompt text the model sees, generation prompt included."""
        if tools and self.native_tools:
            rendered = self.tokenizer.apply_chat_template(
                template_messages(messages), tools=tools, tokenize=False, add_generation_prompt=True
            )
        else:
            rendered = self.tokenizer.apply_chat_template(
                render_text_protocol(messages, tools, tool_choice), tokenize=False, add_generation_prompt=True
            )
        return rendered

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]

    def _generate_kwargs(self, config: GenerationConfig) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": config.max_new_tokens,
            "pad_token_id": self._pad_id(),
            "eos_token_id": sorted(self._stop_ids()),
        }
        if config.temperature > 0:
            kwargs.update(do_sample=True, temperature=config.temperature, top_p=config.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if config.stop and self._can_stop_early(tuple(config.stop)):
            kwargs.update(stop_strings=list(config.stop), tokenizer=self.tokenizer)
        return kwargs

    def _can_stop_early(self, stops: tuple[str, ...]) -> bool:
        """Whether transformers can stop generation at these strings with this tokenizer.

        Its StopStringCriteria needs a tokenizer whose tokens map back to text pieces (BPE, byte-level);
        with others (word-level) it raises, and the stop strings are applied after generation instead.
        """
        if stops not in self._stop_support:
            from transformers import StopStringCriteria

            try:
                StopStringCriteria(self.tokenizer, list(stops))
                self._stop_support[stops] = True
            except (ValueError, KeyError, TypeError):
                self._stop_support[stops] = False
        return self._stop_support[stops]

    def _stop_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if isinstance(source, int):
                ids.add(source)
            elif source:
                ids.update(source)
        if not ids:
            raise ModelError(f"{self.name}: neither the tokenizer nor the generation config names an eos token")
        return ids

    def _pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return pad if pad is not None else min(self._stop_ids())

    def _answer(
        self, token_ids: list[int], prompt_len: int, constraint: ToolConstraint | None, config: GenerationConfig
    ) -> AssistantMessage:
        end = self._answer_length(token_ids)
        text = self.tokenizer.decode(token_ids[:end], skip_special_tokens=False)
        text = strip_special_tokens(text, self.tokenizer)
        for stop in config.stop or []:
            if stop in text:
                text = text[: text.index(stop)]
        usage = Usage(prompt_tokens=prompt_len, completion_tokens=min(end + 1, len(token_ids)))
        if constraint is None or constraint.format != "tool_call" or constraint.mode == "none":
            return AssistantMessage(content=text.strip() or None, usage=usage, raw_text=text)
        # under a grammar only <tool_call> blocks are calls; JSON in free text is just text
        enforced = self.constrained and self.tool_call_tags
        parsed = parse_tool_calls(text, constraint.allowed, tagged_only=enforced)
        return AssistantMessage(parsed.content, parsed.tool_calls, parsed.errors, usage, raw_text=text)


def control_tokens(tokenizer: PreTrainedTokenizerBase) -> set[str]:
    """Special tokens that are control (<|im_start|>, <s>...), not tool-call markup some vocabularies have."""
    special = set(getattr(tokenizer, "all_special_tokens", []))
    special.update(t.content for t in getattr(tokenizer, "added_tokens_decoder", {}).values() if t.special)
    return {token for token in special if token and "tool" not in token}


def strip_special_tokens(text: str, tokenizer: PreTrainedTokenizerBase) -> str:
    """Remove control tokens but keep tool-call markup tokens."""
    for token in control_tokens(tokenizer):
        text = text.replace(token, "")
    return text


def template_messages(messages: list[Message]) -> list[Message]:
    """Messages as chat templates expect them: text content, tool-call arguments as dicts."""
    out = []
    for message in messages:
        message = dict(message)
        message["content"] = content_text(message.get("content"))
        if message.get("tool_calls"):
            message["tool_calls"] = [
                {**call, "function": {**call["function"], "arguments": arguments_as_dict(call["function"].get("arguments"))}}
                for call in message["tool_calls"]
            ]
        out.append(message)
    return out


def template_renders_tools(tokenizer: PreTrainedTokenizerBase) -> bool:
    """True if the chat template shows the tools it is given (otherwise it silently drops them)."""
    probe = {"type": "function", "function": {"name": _PROBE_TOOL, "description": "probe", "parameters": {"type": "object", "properties": {}}}}
    try:
        rendered = tokenizer.apply_chat_template(
            [{"role": "user", "content": "hi"}], tools=[probe], tokenize=False, add_generation_prompt=True
        )
    except Exception:  # noqa: BLE001 - any template error means: no usable native tool support
        return False
    return _PROBE_TOOL in rendered


def template_writes_tool_call_tags(tokenizer: PreTrainedTokenizerBase) -> bool:
    """True if the template writes an assistant's earlier calls as <tool_call> blocks (Hermes, Qwen)."""
    probe = {"type": "function", "function": {"name": _PROBE_TOOL, "description": "probe", "parameters": {"type": "object", "properties": {}}}}
    call = {"id": "c0", "type": "function", "function": {"name": _PROBE_TOOL, "arguments": {}}}
    conversation = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "", "tool_calls": [call]}]
    try:
        rendered = tokenizer.apply_chat_template(conversation, tools=[probe], tokenize=False)
    except Exception:  # noqa: BLE001 - a template that cannot render calls does not write tags either
        return False
    start = rendered.rfind(TOOL_CALL_OPEN)
    return start >= 0 and _PROBE_TOOL in rendered[start:]


def attach_adapter(model: PreTrainedModel, adapter: str | Path, merge: bool = True) -> PreTrainedModel:
    """Attach a tooltune adapter directory (adapter_config.json + adapter_model.safetensors) for inference.

    `merge`: fold a LoRA adapter into the base weights, so that decoding costs what the base model's does
    (input-routed adapters such as MoLoRA and dual-rank stay attached)."""
    adapter = Path(adapter)
    if not (adapter / "adapter_config.json").is_file():
        raise ModelError(f"adapter {adapter}: adapter_config.json not found")
    try:
        from tooltune.adapters.io import AdapterLoadError, base_adapter_dir, load_adapter
        from tooltune.adapters.model import adapter_modules, merge_adapters, mergeable
    except ImportError as exc:
        raise ModelError(f"adapter {adapter}: tooltune.adapters.io.load_adapter is not available ({exc})") from exc
    try:
        base = base_adapter_dir(adapter)
    except AdapterLoadError as exc:
        raise ModelError(str(exc)) from exc
    if base is not None:  # trained on top of another adapter: that one is folded into the weights first
        model = attach_adapter(model, base, merge=True)
        if adapter_modules(model):
            raise ModelError(f"adapter {adapter}: its base adapter {base} is not a LoRA that can be merged")
    try:
        loaded = load_adapter(model, adapter)  # injects into `model` in place
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"adapter {adapter}: could not attach it: {exc}") from exc
    model = loaded if hasattr(loaded, "generate") else model  # load_adapter may return a new model or names
    if merge and mergeable(model):
        merge_adapters(model)
    return model
