"""Grammars that keep a local model's tool calls well-formed, with OpenAI `tool_choice` semantics (xgrammar).

Two call formats, each the model's own way of writing calls:

- "tool_call": `<tool_call>{"name": "<tool>", "arguments": {...}}</tool_call>` blocks: the prompted text
  protocol (`text_protocol.py`, SmolLM2) and what Qwen-style templates with native tool rendering ask for
  (they put a newline inside the tags: allowed, not required).
- "react": `Thought: <one line>` then `Action: <tool>` / `Action Input: {...}`, or `Final Answer: <text>`.

Arguments are JSON in `json.dumps`' default layout (", " and ": ", no newlines: how earlier calls appear
in prompts), valid for the tool's parameter schema: declared properties only, in schema order, required
ones present. Then the model may end (EOS).

| tool_choice | "tool_call" format | "react" format |
|---|---|---|
| auto | free text; a `<tool_call>` may open anywhere and must then hold a valid call of an offered tool; free text, more calls or the end follow | Action of any tool, or Final Answer |
| required | one or more calls (a newline may follow each), nothing else | Action of any tool |
| a function | exactly one call of that function | Action of that tool |
| none | plain text: begins with a word or number; nothing like a call tag (`tool_call`...), no `<`, no call object (`{"name`) | Final Answer (plain text likewise) |

`GrammarLogitsProcessor` masks each constrained row of a batch to what its grammar allows (other rows
stay free); compiled grammars and the tokenizer's `TokenizerInfo` are cached (`tool_grammars`).
"""

from __future__ import annotations

import json
import os
import time
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import xgrammar as xgr
from transformers import LogitsProcessor
from xgrammar import structural_tag as st

from tooltune.models.toolcall_parser import TOOL_CALL_CLOSE, TOOL_CALL_OPEN
from tooltune.models.types import ToolConstraint, ToolSchema

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

ANY_OBJECT: dict[str, Any] = {"type": "object"}
NO_ARGUMENTS: dict[str, Any] = {"type": "object", "properties": {}}
# Where no call may be written, nothing that looks like a call tag either: a tuned model denied `<tool_call>`
# writes "<tool_call call ...>", "<tool_ call>" or "<tool_Call>" instead, which is no answer.
_CALL_TAG_STEMS = ["<tool", "</tool", "tool_call", "tool_ call", "tool_Call"]
# ... nor markup or a call object: denied every call tag, a tuned model writes `<ToolCall>{"name": ...}`,
# `< tool_list>{"name': ...}`, `<script>` or the bare object. An answer to the user is plain text that begins
# with a word or a number and holds no `<`.
_MARKUP_STEMS = ["<", '{"name', "{'name", '"arguments"', "'arguments'"]
_ANSWER_EXCLUDES = [*_CALL_TAG_STEMS, *_MARKUP_STEMS]
_ANSWER_START = "[A-Za-z0-9]"
# Line starts the ReAct parser reads as structure; a final answer must not contain them.
_REACT_FINAL_EXCLUDES = ["Action:", "action:", "Observation:", "observation:", *_ANSWER_EXCLUDES]
# xgrammar 0.2.8 lets strings with minLength/maxLength hold raw control characters, which JSON forbids
_BOUNDED_STRING_CHAR = r'[^\"\\\r\n]'
_JSON_STRING_CHAR = r'[^\0-\x1f\"\\\r\n]'


# ---------------------------------------------------------------- constraint -> structural tag


def tool_parameters(tool: ToolSchema) -> dict[str, Any]:
    """A tool's JSON schema for its arguments (no `parameters`: no arguments)."""
    function = tool.get("function", tool)
    params = function.get("parameters") if isinstance(function, dict) else None
    return params if isinstance(params, dict) and params else NO_ARGUMENTS


def arguments_ebnf(name: str, parameters: dict[str, Any]) -> str:
    """The EBNF grammar of one tool's arguments object, in json.dumps' compact layout.

    A schema xgrammar cannot turn into a grammar falls back to any JSON object, with a warning.
    """
    try:
        ebnf = str(xgr.Grammar.from_json_schema(json.dumps(parameters), any_whitespace=False, strict_mode=True))
        return ebnf.replace(_BOUNDED_STRING_CHAR, _JSON_STRING_CHAR)
    except (RuntimeError, ValueError, TypeError) as exc:
        warnings.warn(f"tool {name!r}: its parameters schema cannot be turned into a grammar ({exc}); "
                      "constraining its arguments to any JSON object", stacklevel=2)
        return str(xgr.Grammar.from_json_schema(json.dumps(ANY_OBJECT), any_whitespace=False))


def _tools_by_name(constraint: ToolConstraint) -> dict[str, ToolSchema]:
    return {tool.get("function", tool).get("name"): tool for tool in constraint.tools}


def _allowed_arguments(constraint: ToolConstraint) -> list[tuple[str, str]]:
    """(name, arguments EBNF) of each tool the constraint lets the model call."""
    by_name = _tools_by_name(constraint)
    return [(name, arguments_ebnf(name, tool_parameters(by_name[name]))) for name in constraint.allowed]


def plain_answer(excludes: list[str]) -> Any:
    """Text for the user: it begins with a word or a number, and none of `excludes` appears in it."""
    return st.SequenceFormat(elements=[st.RegexFormat(pattern=_ANSWER_START), st.AnyTextFormat(excludes=excludes)])


def _tool_call_format(constraint: ToolConstraint) -> Any:
    allowed = _allowed_arguments(constraint)
    if not allowed:  # "none", or no tool to call
        return plain_answer(_ANSWER_EXCLUDES)
    calls = st.OrFormat(elements=[
        st.SequenceFormat(elements=[
            st.ConstStringFormat(value=f'{{"name": {json.dumps(name, ensure_ascii=False)}, "arguments": '),
            st.GrammarFormat(grammar=ebnf),
            st.ConstStringFormat(value="}"),
        ])
        for name, ebnf in allowed
    ])
    newline = st.OptionalFormat(content=st.ConstStringFormat(value="\n"))
    tag = st.TagFormat(begin=TOOL_CALL_OPEN, content=st.SequenceFormat(elements=[newline, calls, newline]),
                       end=TOOL_CALL_CLOSE)
    if constraint.mode == "auto":
        return st.TriggeredTagsFormat(triggers=[TOOL_CALL_OPEN], tags=[tag])
    if constraint.mode == "function":
        return tag
    # one or more calls, each may be followed by a newline: a newline never commits the model to another call
    return st.PlusFormat(content=st.SequenceFormat(elements=[tag, newline]))


def _react_format(constraint: ToolConstraint) -> Any:
    allowed = _allowed_arguments(constraint)
    endings = []
    if allowed:
        endings.append(st.SequenceFormat(elements=[
            st.ConstStringFormat(value="\nAction: "),
            st.OrFormat(elements=[
                st.SequenceFormat(elements=[st.ConstStringFormat(value=f"{name}\nAction Input: "),
                                            st.GrammarFormat(grammar=ebnf)])
                for name, ebnf in allowed
            ]),
        ]))
    if constraint.mode in ("auto", "none") or not allowed:
        endings.append(st.SequenceFormat(elements=[st.ConstStringFormat(value="\nFinal Answer: "),
                                                   plain_answer(_REACT_FINAL_EXCLUDES)]))
    return st.SequenceFormat(elements=[
        st.ConstStringFormat(value="Thought:"),
        st.AnyTextFormat(excludes=["\n", TOOL_CALL_OPEN]),
        st.OrFormat(elements=endings),
    ])


def structural_tag(constraint: ToolConstraint) -> st.StructuralTag:
    """The xgrammar structural tag that enforces `constraint` (see the module docstring)."""
    build = _react_format if constraint.format == "react" else _tool_call_format
    return st.StructuralTag(format=build(constraint))


def constraint_key(constraint: ToolConstraint) -> str:
    """A canonical text naming everything the grammar of `constraint` depends on (the cache key)."""
    by_name = _tools_by_name(constraint)
    allowed = [[name, tool_parameters(by_name[name])] for name in constraint.allowed]
    return json.dumps([constraint.format, constraint.mode, allowed], sort_keys=True, ensure_ascii=False)


# ---------------------------------------------------------------- compiling, per tokenizer


def tokenizer_info(
    tokenizer: PreTrainedTokenizerBase, vocab_size: int, stop_ids: Sequence[int], blocked_ids: Sequence[int] = ()
) -> xgr.TokenizerInfo:
    """xgrammar's view of a tokenizer; `blocked_ids` (control tokens such as <|im_start|>) are never allowed.

    xgrammar never allows tokens that decode to nothing, so blocked tokens are given an empty text.
    """
    stops = sorted(set(stop_ids))
    base = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size, stop_token_ids=stops)
    blocked = set(blocked_ids) - set(stops)
    if not blocked or not getattr(tokenizer, "is_fast", False):
        return base
    vocab = [""] * vocab_size
    for token, index in tokenizer.get_vocab().items():
        if index < vocab_size and index not in blocked:
            vocab[index] = token
    return xgr.TokenizerInfo(vocab, base.vocab_type, vocab_size=vocab_size, stop_token_ids=stops,
                             add_prefix_space=base.add_prefix_space)


class ToolGrammars:
    """Compiles constraints into grammars for one tokenizer and keeps the most recent ones."""

    def __init__(self, info: xgr.TokenizerInfo, max_cached: int = 256) -> None:
        self.info = info
        self.compiler = xgr.GrammarCompiler(info, max_threads=max(1, min(8, os.cpu_count() or 1)),
                                            cache_enabled=False)
        self.max_cached = max_cached
        self._compiled: OrderedDict[str, xgr.CompiledGrammar] = OrderedDict()
        self.compile_seconds = 0.0  # total time spent compiling (cache misses)
        self.misses = 0

    def compile(self, constraint: ToolConstraint) -> xgr.CompiledGrammar:
        """The compiled grammar of `constraint`, from the cache when the same tools + choice were seen."""
        key = constraint_key(constraint)
        compiled = self._compiled.get(key)
        if compiled is not None:
            self._compiled.move_to_end(key)
            return compiled
        started = time.perf_counter()
        compiled = self.compiler.compile_structural_tag(structural_tag(constraint))
        self.compile_seconds += time.perf_counter() - started
        self.misses += 1
        self._compiled[key] = compiled
        if len(self._compiled) > self.max_cached:
            self._compiled.popitem(last=False)
        return compiled

    def logits_processor(self, constraints: Sequence[ToolConstraint | None]) -> GrammarLogitsProcessor:
        """A processor for one batch: row i follows constraints[i] (None: unconstrained)."""
        grammars = [None if c is None else self.compile(c) for c in constraints]
        return GrammarLogitsProcessor(grammars, self.info.vocab_size, self.info.stop_token_ids[0])


_BY_TOKENIZER: weakref.WeakKeyDictionary[Any, dict[tuple, ToolGrammars]] = weakref.WeakKeyDictionary()


def tool_grammars(
    tokenizer: PreTrainedTokenizerBase, vocab_size: int, stop_ids: Sequence[int], blocked_ids: Sequence[int] = ()
) -> ToolGrammars:
    """The (cached) grammar compiler of a tokenizer, for a model with `vocab_size` logits."""
    key = (vocab_size, tuple(sorted(set(stop_ids))), tuple(sorted(set(blocked_ids))))
    per_tokenizer = _BY_TOKENIZER.setdefault(tokenizer, {})
    if key not in per_tokenizer:
        per_tokenizer[key] = ToolGrammars(tokenizer_info(tokenizer, vocab_size, stop_ids, blocked_ids))
    return per_tokenizer[key]


# ---------------------------------------------------------------- decoding


class GrammarLogitsProcessor(LogitsProcessor):
    """Masks the next-token logits of each constrained row to what its grammar allows.

    Rows without a grammar are left alone. Row state advances with the token each row actually got
    (the last column of `input_ids`, so left padding does not matter); a row that has ended (its
    grammar accepted a stop token) is skipped while `generate` pads it.
    """

    def __init__(self, grammars: Sequence[xgr.CompiledGrammar | None], vocab_size: int, stop_id: int) -> None:
        self.matchers: list[xgr.GrammarMatcher | None] = [None if g is None else xgr.GrammarMatcher(g) for g in grammars]
        self.vocab_size = vocab_size
        self.stop_id = stop_id
        self.bitmask = xgr.allocate_token_bitmask(max(1, len(grammars)), vocab_size)
        self.released: list[int] = []  # rows let go: their grammar refused a token (ended by a stop string)
        self.stuck: list[int] = []  # rows ended early: no token of the vocabulary could continue their grammar
        self._started = False

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self._started:
            self._accept(input_ids[:, -1].tolist())
        self._started = True
        rows = [row for row, matcher in enumerate(self.matchers)
                if matcher is not None and not matcher.is_terminated()
                and matcher.fill_next_token_bitmask(self.bitmask, row)]
        if not rows:
            return scores
        bitmask = self.bitmask if scores.device.type == "cpu" else self.bitmask.to(scores.device, non_blocking=True)
        width = min(self.vocab_size, scores.shape[-1])
        xgr.apply_token_bitmask_inplace(scores, bitmask, indices=rows, vocab_size=width)
        if scores.shape[-1] > self.vocab_size:  # logits past the tokenizer's vocabulary are never valid
            scores[rows, self.vocab_size:] = float("-inf")
        for row, possible in zip(rows, self.bitmask[rows].any(dim=1).tolist()):
            if not possible:  # e.g. a word-level vocabulary that cannot spell a tool name: end the row, do not crash
                scores[row, self.stop_id] = 0.0
                self.matchers[row] = None
                self.stuck.append(row)
        return scores

    def _accept(self, tokens: list[int]) -> None:
        for row, matcher in enumerate(self.matchers):
            if matcher is None or matcher.is_terminated():
                continue
            if not matcher.accept_token(tokens[row]):
                self.matchers[row] = None
                self.released.append(row)

    def continuation(self, rows: Sequence[int]) -> GrammarLogitsProcessor:
        """A processor that carries on rows `rows` from where this one stopped (their matchers keep their state).

        The last token `generate` produced was never shown to this processor, so the new one accepts the last
        token of its input first."""
        follow = GrammarLogitsProcessor([], self.vocab_size, self.stop_id)
        follow.matchers = [self.matchers[row] for row in rows]
        follow.bitmask = xgr.allocate_token_bitmask(len(rows), self.vocab_size)
        follow._started = True
        return follow

    def active(self, row: int) -> bool:
        """Whether row `row` still follows its grammar and has not completed it."""
        matcher = self.matchers[row]
        return matcher is not None and not matcher.is_terminated()

    def finished(self, row: int) -> bool:
        """Whether row `row` completed its grammar (accepted a stop token)."""
        matcher = self.matchers[row]
        return matcher is not None and matcher.is_terminated()


CLOSING_CHARACTERS = ('"', "}", "]")


def closing_token_ids(tokenizer: PreTrainedTokenizerBase, vocab_size: int) -> list[int]:
    """Tokens whose text starts with a character that closes a JSON string, object or array."""
    texts = tokenizer.batch_decode([[token_id] for token_id in range(min(vocab_size, len(tokenizer)))])
    return [token_id for token_id, text in enumerate(texts) if text.startswith(CLOSING_CHARACTERS)]


class PreferClosing(LogitsProcessor):
    """After `after` steps, a row whose grammar allows a closing token (`closing_token_ids`) may only take
    one, so a call left open (a string or a number the model keeps writing) closes within a bounded budget.
    Place it after the grammar's processor, which has already set what it forbids to -inf."""

    def __init__(self, token_ids: Sequence[int], after: int) -> None:
        self.token_ids = list(token_ids)
        self.after = after
        self.steps = 0
        self._closing: torch.Tensor | None = None  # the vocabulary mask, built at the first step that needs it

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        import torch

        self.steps += 1
        if self.steps <= self.after or not self.token_ids:
            return scores
        if self._closing is None or self._closing.shape[0] != scores.shape[-1]:
            self._closing = torch.zeros(scores.shape[-1], dtype=torch.bool, device=scores.device)
            self._closing[self.token_ids] = True
        closing = self._closing
        rows = torch.isfinite(scores[:, closing]).any(dim=1)
        if rows.any():
            scores[rows] = torch.where(closing, scores[rows], torch.full_like(scores[rows], float("-inf")))
        return scores


def call_left_open(text: str, constraint: ToolConstraint) -> bool:
    """Whether text generated under `constraint` stops inside a call: a `<tool_call>` not yet closed (under
    `required` or a named function, anything but a closed call), or a ReAct Action begun."""
    if constraint.format == "react":
        return "Action:" in text
    if constraint.mode in ("required", "function") and not text.rstrip().endswith(TOOL_CALL_CLOSE):
        return True
    return text.rfind(TOOL_CALL_OPEN) > text.rfind(TOOL_CALL_CLOSE)
