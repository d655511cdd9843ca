"""Constrained tool calls: grammars per tool_choice and format, the batch logits processor, HF + HTTP backends."""

from __future__ import annotations

import json
import random

import jsonschema
import pytest
import torch
import xgrammar as xgr

from tooltune.models import grammar
from tooltune.models.grammar import GrammarLogitsProcessor, ToolGrammars, tokenizer_info, tool_grammars
from tooltune.models.hf_local import HFChatModel
from tooltune.models.openai_http import OpenAIChatModel, RetryPolicy
from tooltune.models.toolcall_parser import parse_tool_calls
from tooltune.models.types import ChatRequest, GenerationConfig, ToolConstraint

from .conftest import make_tokenizer
from .fake_openai_server import FakeOpenAIServer, reply

EOS = 2  # <|im_end|> in the conftest tokenizers
PAD = 3


def tool(name: str, parameters: dict | None) -> dict:
    function = {"name": name, "description": f"{name} tool"}
    if parameters is not None:
        function["parameters"] = parameters
    return {"type": "function", "function": function}


WEATHER = tool("get_weather", {
    "type": "object",
    "properties": {"city": {"type": "string", "enum": ["Oslo", "Paris", "Rome"]},
                   "days": {"type": "integer", "minimum": 1, "maximum": 7},
                   "metric": {"type": "boolean"}},
    "required": ["city", "days"],
})
LIGHT = tool("set_light", {
    "type": "object", "properties": {"room": {"type": "string", "enum": ["kitchen", "hall"]}, "on": {"type": "boolean"}},
    "required": ["room", "on"], "additionalProperties": False,
})
NO_ARGS = tool("get_time", None)
TOOLS = [WEATHER, LIGHT, NO_ARGS]
OSLO = '{"name": "get_weather", "arguments": {"city": "Oslo", "days": 3}}'
KITCHEN = '{"name": "set_light", "arguments": {"room": "kitchen", "on": true}}'


@pytest.fixture(scope="module")
def tokenizer():
    return make_tokenizer()


@pytest.fixture(scope="module")
def grammars(tokenizer) -> ToolGrammars:
    return tool_grammars(tokenizer, len(tokenizer), [EOS], blocked_ids=[0, 1, PAD])


def accepts(grammars: ToolGrammars, constraint: ToolConstraint, text: str) -> bool:
    """Whether the grammar accepts `text` as a complete answer (the model may stop right after it)."""
    matcher = xgr.GrammarMatcher(grammars.compile(constraint))
    return matcher.accept_string(text) and matcher.accept_token(EOS)


def prefix_ok(grammars: ToolGrammars, constraint: ToolConstraint, text: str) -> bool:
    """Whether `text` can start an answer (not necessarily a complete one)."""
    return xgr.GrammarMatcher(grammars.compile(constraint)).accept_string(text)


# ---------------------------------------------------------------- tool_choice semantics, <tool_call> format


def test_auto_allows_text_and_calls_but_a_started_call_must_be_valid(grammars):
    auto = ToolConstraint(TOOLS, "auto")
    assert accepts(grammars, auto, "It is sunny, no tool needed.")
    assert accepts(grammars, auto, f"Let me check. <tool_call>{OSLO}</tool_call>")
    assert accepts(grammars, auto, f"<tool_call>{OSLO}</tool_call>\n<tool_call>{KITCHEN}</tool_call> Done.")
    assert accepts(grammars, auto, '<tool_call>{"name": "get_time", "arguments": {}}</tool_call>')
    assert accepts(grammars, auto, f"<tool_call>\n{OSLO}\n</tool_call>")  # Qwen's layout
    assert accepts(grammars, auto, "")
    assert not prefix_ok(grammars, auto, '<tool_call>{"name": "get_news"')  # not an offered tool
    assert not prefix_ok(grammars, auto, '<tool_call>{"name": "get_weather", "arguments": {"city": "Berlin"')
    assert not prefix_ok(grammars, auto, '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo", "days": 9')
    assert not prefix_ok(grammars, auto, '<tool_call>{"name": "get_weather", "arguments": {"days": 3')  # order / required
    assert not prefix_ok(grammars, auto, '<tool_call>{"name": "set_light", "arguments": {"room": "hall", "on": "yes"')
    assert not prefix_ok(grammars, auto, '<tool_call>{"name": "get_time", "arguments": {"x": 1')
    assert not accepts(grammars, auto, '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>')
    assert not accepts(grammars, auto, f"<tool_call>{OSLO}")  # an open call cannot end the answer


def test_required_means_calls_only(grammars):
    required = ToolConstraint(TOOLS, "required")
    assert accepts(grammars, required, f"<tool_call>{OSLO}</tool_call>")
    assert accepts(grammars, required, f"<tool_call>{OSLO}</tool_call>\n<tool_call>{KITCHEN}</tool_call>")
    assert not accepts(grammars, required, "")
    assert not prefix_ok(grammars, required, "Sure")
    assert not accepts(grammars, required, f"<tool_call>{OSLO}</tool_call> thanks")
    assert accepts(grammars, required, f"<tool_call>{OSLO}</tool_call>\n")  # a newline does not force another call
    assert accepts(grammars, required, f"<tool_call>{OSLO}</tool_call><tool_call>{KITCHEN}</tool_call>")


def test_a_named_function_means_exactly_one_call_of_it(grammars):
    for choice in ("set_light", {"type": "function", "function": {"name": "set_light"}}):
        named = ToolConstraint(TOOLS, choice)
        assert named.mode == "function" and named.allowed == ["set_light"]
        assert accepts(grammars, named, f"<tool_call>{KITCHEN}</tool_call>")
        assert not prefix_ok(grammars, named, '<tool_call>{"name": "get_weather"')
        assert not accepts(grammars, named, f"<tool_call>{KITCHEN}</tool_call>\n<tool_call>{KITCHEN}</tool_call>")
        assert not prefix_ok(grammars, named, "I will")


def test_none_makes_the_call_tag_impossible(grammars):
    none = ToolConstraint(TOOLS, "none")
    assert accepts(grammars, none, "Plain answer, mentioning get_weather and {json}.")
    assert not prefix_ok(grammars, none, "Here: <tool_call>")
    for pseudo_call in ('<tool_call call "get_weather">', "<tool_call*>", "done </tool_call>", "<tool_ call>",
                        "<tool_Call>", "<tools>"):
        assert not prefix_ok(grammars, none, pseudo_call)  # nothing that starts like a call tag


def test_none_answers_in_plain_text_without_markup_or_a_call_object(grammars):
    none = ToolConstraint(TOOLS, "none")
    for markup in ("<ToolCall>", "Done. <script>alert(1)", "Use it <b>now", "</b>", "< tool_list>", "x <3",
                   'Sure: {"name": "get_weather", "arguments": {}}', "{'name': 1}", '"arguments": {}',
                   " Done", "\nDone", "*Done*", '{"city": "Oslo"}'):
        assert not prefix_ok(grammars, none, markup)  # what a tuned model writes when denied the call tag
    assert accepts(grammars, none, "Rain 2 mm and wind 5 m/s: {\"city\": \"Oslo\"} is fine -> go.")
    assert accepts(grammars, none, "3 alarms today.")


def test_control_tokens_are_never_allowed_but_eos_ends(grammars, tokenizer):
    matcher = xgr.GrammarMatcher(grammars.compile(ToolConstraint(TOOLS, "auto")))
    bitmask = xgr.allocate_token_bitmask(1, len(tokenizer))
    matcher.fill_next_token_bitmask(bitmask)
    allowed = allowed_ids(bitmask[0], len(tokenizer))
    assert EOS in allowed and not {0, 1, PAD} & allowed


def test_compiled_grammars_and_tokenizer_info_are_cached(tokenizer, grammars):
    assert tool_grammars(tokenizer, len(tokenizer), [EOS], blocked_ids=[PAD, 1, 0]) is grammars
    assert tool_grammars(tokenizer, len(tokenizer) + 32, [EOS]) is not grammars  # another model head
    fresh = ToolGrammars(grammars.info)
    first = fresh.compile(ToolConstraint([LIGHT, WEATHER], "required"))
    again = fresh.compile(ToolConstraint([LIGHT, WEATHER], {"type": "function", "function": {"name": "set_light"}}))
    assert fresh.compile(ToolConstraint([LIGHT, WEATHER], "required")) is first
    assert again is not first and fresh.misses == 2 and fresh.compile_seconds > 0
    assert fresh.compile(ToolConstraint([LIGHT, WEATHER], "set_light")) is again  # same choice, other spelling
    assert fresh.compile(ToolConstraint([LIGHT], "set_light")) is again  # only the callable tools matter


def test_invalid_tool_choice_names_the_bad_value():
    with pytest.raises(ValueError, match="'play_music'.*not among the offered tools"):
        ToolConstraint(TOOLS, "play_music")
    with pytest.raises(ValueError, match="'get_news'"):
        ChatRequest([], TOOLS, {"type": "function", "function": {"name": "get_news"}})
    with pytest.raises(ValueError, match="'required' needs tools"):
        ChatRequest([], None, "required")
    with pytest.raises(ValueError, match="got 7"):
        ChatRequest([], TOOLS, 7)
    with pytest.raises(ValueError, match="got {'type': 'tool'"):
        ChatRequest([], TOOLS, {"type": "tool", "name": "get_weather"})
    with pytest.raises(ValueError, match="not both"):
        ChatRequest([], TOOLS, constraint=ToolConstraint(TOOLS, "auto", "react"))
    with pytest.raises(ValueError, match="format"):
        ToolConstraint(TOOLS, "auto", "json")
    assert ChatRequest([], TOOLS, "get_weather").tool_choice == {"type": "function", "function": {"name": "get_weather"}}
    assert ChatRequest([], TOOLS).tool_constraint().choice == "auto"
    assert ChatRequest([], None).tool_constraint() is None


# ---------------------------------------------------------------- the ReAct format


def test_react_format_per_tool_choice(grammars):
    action = 'Thought: I need the weather.\nAction: get_weather\nAction Input: {"city": "Rome", "days": 2}'
    final = "Thought: I can now answer\nFinal Answer: It is sunny.\nSee you."
    auto, required = ToolConstraint(TOOLS, "auto", "react"), ToolConstraint(TOOLS, "required", "react")
    named, none = ToolConstraint(TOOLS, "set_light", "react"), ToolConstraint(TOOLS, "none", "react")
    assert accepts(grammars, auto, action) and accepts(grammars, auto, final)
    assert accepts(grammars, required, action) and not accepts(grammars, required, final)
    assert not accepts(grammars, named, action)
    assert accepts(grammars, named, 'Thought:\nAction: set_light\nAction Input: {"room": "hall", "on": false}')
    assert accepts(grammars, none, final) and not accepts(grammars, none, action)
    assert not prefix_ok(grammars, auto, "Thought: a\nsecond line")  # one Thought line, then Action or Final Answer
    assert not prefix_ok(grammars, auto, "Thought: x\nAction: get_news")
    assert not prefix_ok(grammars, auto, 'Thought: x\nAction: get_weather\nAction Input: {"city": 3')
    assert not accepts(grammars, auto, action + "\nObservation: sunny")  # the call ends the answer
    assert not accepts(grammars, auto, "Thought: x\nFinal Answer: ok\nAction: get_time")
    assert not accepts(grammars, auto, "Thought: thinking forever")


# ---------------------------------------------------------------- many random schemas, driven by random logits


def random_schema(rng: random.Random, depth: int = 0) -> dict:
    kinds = ["string", "integer", "number", "boolean", "enum"] + (["object", "array"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "string":
        schema: dict = {"type": "string"}
        if rng.random() < 0.3:
            schema["maxLength"] = rng.randint(1, 12)
            if rng.random() < 0.5:
                schema["minLength"] = rng.randint(0, schema["maxLength"])
        return schema
    if kind == "integer":
        schema = {"type": "integer"}
        if rng.random() < 0.7:
            low = rng.randint(-1000, 1000)
            schema.update(minimum=low, maximum=low + rng.choice([0, 1, 9, 10, 99, 5000]))
        elif rng.random() < 0.5:
            schema["minimum"] = rng.randint(-50, 50)
        return schema
    if kind == "number":
        return {"type": "number"}
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "enum":
        values = rng.sample(["red", "green", "blue", "a b", "é", 'say "hi"', "x\\y", "", "line\nbreak"], rng.randint(1, 4))
        return {"type": "string", "enum": values}
    if kind == "array":
        schema = {"type": "array", "items": random_schema(rng, depth + 1)}
        if rng.random() < 0.3:
            schema["maxItems"] = rng.randint(1, 3)
        return schema
    return random_object(rng, depth + 1)


def random_object(rng: random.Random, depth: int = 0) -> dict:
    names = rng.sample(["city", "count", "when", "tags", "options", "id", "query", "level", "extra", "note"],
                       rng.randint(0 if depth else 1, 5))
    properties = {name: random_schema(rng, depth) for name in names}
    schema = {"type": "object", "properties": properties,
              "required": [n for n in names if rng.random() < 0.6]}
    if rng.random() < 0.5:
        schema["additionalProperties"] = False
    return schema


def allowed_ids(row_bitmask: torch.Tensor, vocab_size: int) -> set[int]:
    bits = (row_bitmask.unsqueeze(1) >> torch.arange(32, dtype=torch.int32)) & 1
    return set(torch.nonzero(bits.flatten()[:vocab_size]).flatten().tolist())


def closing_bias(tokenizer) -> torch.Tensor:
    """After the budget, tokens that end strings, arrays, objects and the answer get likelier."""
    bias = torch.zeros(len(tokenizer))
    bias[EOS] = 12.0
    for char, weight in {'"': 7.0, "]": 6.0, "}": 6.0, "<": 4.0, "/": 4.0}.items():
        bias[tokenizer.convert_tokens_to_ids(char)] = weight
    return bias


def drive(processor: GrammarLogitsProcessor, tokenizer, rng: torch.Generator, prefixes: list[str],
          budget: int = 30, max_steps: int = 2000) -> list[str]:
    """Generate with random logits through the processor, like `generate` would; prefixes are forced first."""
    rows = len(prefixes)
    forced = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prefixes]
    input_ids = torch.full((rows, 4), PAD)  # a stand-in prompt (the processor only reads the last column)
    bias = closing_bias(tokenizer)
    done = [False] * rows
    for step in range(max_steps):
        scores = torch.randn(rows, len(tokenizer), generator=rng) * 2.0
        if step >= budget:
            scores += bias
        scores = processor(input_ids, scores)
        next_ids = []
        for row in range(rows):
            if done[row]:
                next_ids.append(PAD)
                continue
            if step < len(forced[row]):
                token = forced[row][step]
                assert scores[row, token] > float("-inf"), f"row {row}: forced {prefixes[row]!r} refused at {step}"
            else:
                token = int(scores[row].argmax())
            assert scores[row, token] > float("-inf")
            done[row] = token == EOS
            next_ids.append(token)
        input_ids = torch.cat([input_ids, torch.tensor(next_ids).unsqueeze(1)], dim=1)
        if all(done):
            break
    assert all(done), "generation did not finish"
    texts = []
    for row in range(rows):
        generated = input_ids[row, 4:].tolist()
        texts.append(tokenizer.decode(generated[: generated.index(EOS)]))
    return texts


def check_calls(text: str, constraint: ToolConstraint, schemas: dict[str, dict]) -> list:
    parsed = parse_tool_calls(text, constraint.allowed)
    assert parsed.errors == [], text
    for call in parsed.tool_calls:
        jsonschema.Draft202012Validator(schemas[call.name]).validate(call.arguments)  # (no slow schema check)
    return parsed.tool_calls


def test_random_schemas_always_yield_parseable_schema_valid_calls(grammars, tokenizer):
    """200 random tool schemas; per schema one batch row per tool_choice, random logits through the matcher."""
    rng = random.Random(1234)
    torch_rng = torch.Generator().manual_seed(1234)
    checked = 0
    for index in range(200):
        schemas = {f"tool_{index}": random_object(rng), f"other_{index}": random_object(rng)}
        tools = [tool(name, schema) for name, schema in schemas.items()]
        constraints = [ToolConstraint(tools, "required"), ToolConstraint(tools, f"tool_{index}"),
                       ToolConstraint(tools, "auto"), None, ToolConstraint(tools, "auto", "react")]
        prefixes = ["", "", "Calling. <tool_call>", "", "Thought: go\nAction: "]
        texts = drive(grammars.logits_processor(constraints), tokenizer, torch_rng, prefixes)
        required, named, auto, _free, react = texts
        assert len(check_calls(required, constraints[0], schemas)) >= 1
        calls = check_calls(named, constraints[1], schemas)
        assert [c.name for c in calls] == [f"tool_{index}"]
        assert len(check_calls(auto, constraints[2], schemas)) >= 1
        react_calls = check_calls(react, constraints[4], schemas)
        assert len(react_calls) == 1 and react.startswith("Thought: go\nAction: ")
        checked += len(calls) + len(react_calls)
    assert checked >= 400


def test_sandbox_tools_accept_every_gold_call(tokenizer):
    """Completeness on real schemas: the grammar of each sandbox tool accepts all 864 cases' gold calls."""
    from tooltune.sandbox.reference import gold_trajectory
    from tooltune.sandbox.suite import builtin_suite

    suite = builtin_suite()
    with suite.open_world(suite.cases[0]) as world:
        schemas = world.tool_schemas(None)
    by_name = {s["function"]["name"]: s for s in schemas}
    grammars = ToolGrammars(tokenizer_info(tokenizer, len(tokenizer), [EOS]))
    seen = 0
    for case in suite.cases:
        for message in gold_trajectory(case):
            for call in message.get("tool_calls") or []:
                name = call["function"]["name"]
                arguments = json.loads(call["function"]["arguments"])
                properties = by_name[name]["function"]["parameters"]["properties"]
                ordered = {key: arguments[key] for key in properties if key in arguments}  # schema order
                text = "<tool_call>" + json.dumps({"name": name, "arguments": ordered}, ensure_ascii=False) + "</tool_call>"
                assert accepts(grammars, ToolConstraint(schemas, name), text), text
                seen += 1
    assert seen > 1000


# ---------------------------------------------------------------- the logits processor in a batch


def test_processor_leaves_free_rows_alone_and_skips_finished_rows(grammars, tokenizer):
    processor = grammars.logits_processor([None, ToolConstraint(TOOLS, "required")])
    scores = torch.zeros(2, len(tokenizer))
    out = processor(torch.full((2, 3), PAD), scores.clone())
    assert torch.isfinite(out[0]).all()  # unconstrained row untouched
    allowed = torch.isfinite(out[1]).nonzero().flatten().tolist()
    assert allowed == [tokenizer.convert_tokens_to_ids("<")]  # a required answer starts with <tool_call>
    wider = GrammarLogitsProcessor([grammars.compile(ToolConstraint(TOOLS, "none"))], len(tokenizer), EOS)
    padded_head = wider(torch.full((1, 1), PAD), torch.zeros(1, len(tokenizer) + 7))
    assert torch.isinf(padded_head[0, len(tokenizer):]).all()  # logits past the vocabulary are never valid


# ---------------------------------------------------------------- HFChatModel


@pytest.fixture(scope="module")
def tiny_pair():
    from .conftest import make_model

    tok = make_tokenizer()
    return make_model("llama", len(tok), seed=3), tok


ASK = [{"role": "user", "content": "Weather in Oslo for three days?"}]
SCHEMAS = {"get_weather": WEATHER["function"]["parameters"], "set_light": LIGHT["function"]["parameters"]}


def assert_well_formed(answer, max_new_tokens: int) -> None:
    """Every call schema-valid and none malformed: a call still open at max_new_tokens is finished."""
    assert answer.tool_calls
    for call in answer.tool_calls:
        jsonschema.Draft202012Validator(SCHEMAS[call.name]).validate(call.arguments)
    assert answer.parse_errors == []


def test_a_call_open_when_the_budget_ends_is_finished_under_its_grammar(tiny_pair):
    model = HFChatModel(*tiny_pair)
    for budget in (3, 11, 29):
        answer = model.chat_batch([ChatRequest(ASK, [WEATHER, LIGHT], "required"),
                                   ChatRequest(ASK, [WEATHER, LIGHT], "set_light")], GenerationConfig(max_new_tokens=budget))
        for row in answer:
            assert row.usage.completion_tokens > budget  # it went past the budget to close the call
            assert row.raw_text.rstrip().endswith("</tool_call>")
            assert_well_formed(row, budget)


def test_a_model_stuck_in_an_unbounded_string_still_closes_its_call():
    """A model that would write "1" for ever inside a free string: past CALL_CLOSE_AFTER extra tokens the
    closing tokens are favoured where the grammar allows them, so the call closes within the budget."""
    from tooltune.models.hf_local import CALL_CLOSE_AFTER, CALL_COMPLETION_TOKENS

    from .conftest import make_model

    tok = make_tokenizer()
    model = make_model("llama", len(tok), seed=3)
    one = tok.convert_tokens_to_ids("1")
    favour_one = torch.zeros(len(tok))
    favour_one[one] = 1e4
    model.lm_head.register_forward_hook(lambda module, inputs, output: output + favour_one.to(output.dtype))
    note = tool("add_note", {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]})
    answer = HFChatModel(model, tok).chat(ASK, [note], GenerationConfig(max_new_tokens=40), tool_choice="add_note")
    assert answer.parse_errors == [] and [c.name for c in answer.tool_calls] == ["add_note"]
    text = answer.tool_calls[0].arguments["text"]
    assert set(text) == {"1"} and 1 <= len(text) <= CALL_CLOSE_AFTER + 40  # it wrote "1"s, then closed
    assert answer.usage.completion_tokens < 40 + CALL_COMPLETION_TOKENS


def test_json_in_free_text_is_not_a_call_under_a_grammar():
    text = 'Here is the schema: {"name": "get_weather", "arguments": {"city": 3}} as you asked'
    assert parse_tool_calls(text, ["get_weather"]).tool_calls  # lenient parsing reads it as a call
    strict = parse_tool_calls(text, ["get_weather"], tagged_only=True)
    assert strict.tool_calls == [] and strict.errors == [] and strict.content == text


def test_chat_batch_mixes_constrained_and_free_rows(tiny_pair):
    model = HFChatModel(*tiny_pair)
    config = GenerationConfig(max_new_tokens=100)
    requests = [
        ChatRequest(ASK, [WEATHER, LIGHT], "required"),
        ChatRequest([{"role": "user", "content": "Say hi, in a longer prompt than the others."}]),
        ChatRequest(ASK, [WEATHER, LIGHT], "set_light"),
        ChatRequest(ASK, [WEATHER, LIGHT], "none"),
        ChatRequest(ASK, constraint=ToolConstraint([WEATHER, LIGHT], "required", "react")),
    ]
    answers = model.chat_batch(requests, config)
    required, free, named, none, react = answers
    assert required.raw_text.startswith("<tool_call>")
    assert_well_formed(required, 100)  # required may go on calling; this random model does
    assert [c.name for c in named.tool_calls] == ["set_light"] and not named.parse_errors
    assert_well_formed(named, 100)
    assert none.tool_calls == [] and "<tool_call>" not in none.raw_text
    assert react.tool_calls == []  # ReAct answers are read by the strategy, from raw_text
    thought, _, action = react.raw_text.partition("\n")  # a random model may think for all its tokens
    assert thought.startswith("Thought:") and (not action or action.startswith("Action: "))
    alone = model.chat_batch([requests[1]], config)[0]
    assert free.raw_text == alone.raw_text  # the free row is not affected by its constrained neighbours


def test_constrained_batch_equals_one_by_one_and_sampling_stays_valid(tiny_pair):
    model = HFChatModel(*tiny_pair)
    requests = [ChatRequest(ASK, [WEATHER], "required"),
                ChatRequest([{"role": "system", "content": "You are a very careful assistant."}] + ASK, [WEATHER, LIGHT],
                            "required")]
    greedy = GenerationConfig(max_new_tokens=140)
    batched = model.chat_batch(requests, greedy)
    one_by_one = [model.chat(r.messages, r.tools, greedy, tool_choice=r.tool_choice) for r in requests]
    assert [a.raw_text for a in batched] == [a.raw_text for a in one_by_one]  # left padding is handled
    sampled = model.chat_batch(requests, GenerationConfig(max_new_tokens=140, temperature=1.3, top_p=0.8, seed=5))
    for answer in sampled:
        assert_well_formed(answer, 140)


def test_native_qwen_style_template_is_constrained_in_its_tool_call_tags(qwen_model, tools_tokenizer):
    model = HFChatModel(qwen_model, tools_tokenizer)
    assert model.native_tools and model.tool_call_tags
    answer = model.chat(ASK, [WEATHER, LIGHT], GenerationConfig(max_new_tokens=130), tool_choice="get_weather")
    assert [c.name for c in answer.tool_calls] == ["get_weather"] and not answer.parse_errors
    assert_well_formed(answer, 130)


def test_constraints_can_be_switched_off_and_bad_choices_fail_early(tiny_pair):
    model = HFChatModel(*tiny_pair, constrained=False)
    assert model.grammar_processor([ChatRequest(ASK, [WEATHER], "required").tool_constraint()]) is None
    assert "Now call one or more tools" in model.render_prompt(ASK, [WEATHER], "required")
    with pytest.raises(ValueError, match="'play_music'"):
        model.chat(ASK, [WEATHER], tool_choice="play_music")
    on = HFChatModel(*tiny_pair)
    assert on.grammar_processor([None, None]) is None  # nothing constrained: plain generate
    assert isinstance(on.grammar_processor([None, ToolConstraint([WEATHER])]), GrammarLogitsProcessor)


@pytest.mark.slow
def test_smollm2_tokenizer_grammar_yields_valid_calls():
    """SmolLM2's real 49k byte-level vocabulary: multi-byte tokens, control tokens blocked."""
    from tooltune.models.embedded import load_embedded_model

    model, tokenizer = load_embedded_model()
    chat = HFChatModel(model, tokenizer)
    grammars_ = chat.tool_grammars()
    assert grammars_.info.vocab_size == model.get_output_embeddings().weight.shape[0]
    rng = random.Random(7)
    texts = [tokenizer.decode([i]) for i in range(len(tokenizer))]
    for _ in range(3):
        schema = random_object(rng)
        constraint = ToolConstraint([tool("f", schema)], "f")
        matcher = xgr.GrammarMatcher(grammars_.compile(constraint))
        bitmask = xgr.allocate_token_bitmask(1, grammars_.info.vocab_size)
        generator = torch.Generator().manual_seed(0)
        tokens = []
        for step in range(400):
            matcher.fill_next_token_bitmask(bitmask)
            allowed = sorted(allowed_ids(bitmask[0], grammars_.info.vocab_size))
            assert tokenizer.convert_tokens_to_ids("<|im_start|>") not in allowed
            pools = [allowed]
            if step > 30:  # after a budget, prefer ending: stop, close strings / containers, short tokens
                pools = [[t for t in allowed if t in matcher.stop_token_ids],
                         [t for t in allowed if texts[t][:1] in ('"', "}", "]") and len(texts[t]) <= 2],
                         [t for t in allowed if len(texts[t]) <= 2], allowed]
            pool = next(p for p in pools if p)
            token = pool[int(torch.randint(len(pool), (1,), generator=generator))]
            assert matcher.accept_token(token)
            if matcher.is_terminated():
                break
            tokens.append(token)
        assert matcher.is_terminated()
        check_calls(tokenizer.decode(tokens), constraint, {"f": schema})
    answer = chat.chat(ASK, [WEATHER], GenerationConfig(max_new_tokens=60), tool_choice="required")
    assert_well_formed(answer, 60)
    assert answer.tool_calls[0].arguments["city"] == "Oslo"  # SmolLM2 reads the question right


# ---------------------------------------------------------------- HTTP backend


@pytest.fixture()
def server():
    fake = FakeOpenAIServer()
    with fake:
        yield fake


def http(server: FakeOpenAIServer, **options) -> OpenAIChatModel:
    return OpenAIChatModel(server.url, "m", retry=RetryPolicy(max_retries=0), **options)


def test_http_sends_tool_choice_with_native_tools(server):
    model = http(server)
    model.chat(ASK, [WEATHER, LIGHT], tool_choice="set_light")
    model.chat(ASK, [WEATHER], tool_choice="required")
    model.chat(ASK, [WEATHER])
    model.chat(ASK, tool_choice="none")
    sent = server.requests
    assert sent[0]["tool_choice"] == {"type": "function", "function": {"name": "set_light"}}
    assert sent[1]["tool_choice"] == "required"
    assert "tool_choice" not in sent[2] and "tool_choice" not in sent[3]  # not set / no tools: not sent
    with pytest.raises(ValueError, match="'get_news'"):
        model.chat(ASK, [WEATHER], tool_choice="get_news")
    assert len(server.requests) == 4


def test_http_text_protocol_follows_tool_choice(server):
    model = http(server, native_tools=False)
    server.default = ("json", reply('<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo", "days": 1}}</tool_call>'))
    none = model.chat(ASK, [WEATHER], tool_choice="none")
    assert none.tool_calls == [] and "<tool_call>" in none.content  # not read for calls
    assert "get_weather" not in json.dumps(server.requests[0]["messages"])  # tools left out of the prompt
    named = model.chat(ASK, [WEATHER, LIGHT], tool_choice="set_light")
    assert named.tool_calls == [] and "unknown tool 'get_weather'" in named.parse_errors[0]
    assert "Now call the tool set_light" in server.requests[1]["messages"][0]["content"]
    required = model.chat(ASK, [WEATHER], tool_choice="required")
    assert [c.name for c in required.tool_calls] == ["get_weather"]
    assert "Now call one or more tools" in server.requests[2]["messages"][0]["content"]
    assert all("tools" not in r and "tool_choice" not in r for r in server.requests)


def test_grammar_module_documents_every_choice():
    for mode in ("auto", "required", "none"):
        assert f"| {mode} |" in grammar.__doc__
