"""OpenAIChatModel against a real HTTP server on 127.0.0.1 with injected failures."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tooltune.models.base import ModelError
from tooltune.models.openai_http import OpenAIChatModel, RetryPolicy, parse_retry_after
from tooltune.models.types import GenerationConfig

from .fake_openai_server import FakeOpenAIServer, reply

FAST = RetryPolicy(max_retries=3, backoff_base=0.01, backoff_cap=0.05)
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
ASK = [{"role": "user", "content": "weather in Paris?"}]


@pytest.fixture
def server():
    with FakeOpenAIServer() as running:
        yield running


def client(server: FakeOpenAIServer, **options) -> OpenAIChatModel:
    options.setdefault("retry", FAST)
    options.setdefault("timeout", 2.0)
    return OpenAIChatModel(server.url, "test-model", **options)


def test_plain_answer_and_request_body(server, monkeypatch):
    monkeypatch.setenv("MY_KEY", "secret-123")
    server.script.append(("json", reply("Paris.")))
    answer = client(server, api_key_env="MY_KEY").chat(ASK, config=GenerationConfig(max_new_tokens=7, seed=3, stop=["\n"]))
    assert answer.content == "Paris." and answer.tool_calls == []
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (5, 2)
    sent = server.requests[0]
    assert sent["model"] == "test-model" and sent["messages"] == ASK
    assert (sent["max_tokens"], sent["seed"], sent["stop"], sent["temperature"]) == (7, 3, ["\n"], 0.0)
    assert "tools" not in sent
    assert server.headers[0]["Authorization"] == "Bearer secret-123"


def test_native_tool_calls(server):
    calls = [
        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": "{not json"}},
        {"id": "call_c", "type": "function", "function": {"name": "rm_rf", "arguments": "{}"}},
    ]
    server.script.append(("json", reply(None, calls)))
    model = client(server)
    answer = model.chat(ASK, [WEATHER])
    assert server.requests[0]["tools"] == [WEATHER]
    assert [(c.id, c.name, c.arguments) for c in answer.tool_calls] == [("call_a", "get_weather", {"city": "Paris"})]
    assert len(answer.parse_errors) == 2
    assert "not valid JSON" in answer.parse_errors[0] and "unknown tool 'rm_rf'" in answer.parse_errors[1]
    assert model.native_tools is True


def test_earlier_tool_calls_are_sent_in_api_format(server):
    history = ASK + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
        ]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    client(server).chat(history, [WEATHER])
    sent_call = server.requests[0]["messages"][1]["tool_calls"][0]
    assert json.loads(sent_call["function"]["arguments"]) == {"city": "Paris"}
    assert server.requests[0]["messages"][2] == history[2]


def test_server_without_tools_falls_back_to_the_text_protocol(server):
    server.default = ("json", reply('Sure.\n<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>'))
    server.script.append(("reject_tools",))
    model = client(server)
    answer = model.chat(ASK, [WEATHER])
    assert [(c.name, c.arguments) for c in answer.tool_calls] == [("get_weather", {"city": "Oslo"})]
    assert answer.content == "Sure."
    assert model.native_tools is False
    assert "tools" in server.requests[0] and "tools" not in server.requests[1]
    system = server.requests[1]["messages"][0]
    assert system["role"] == "system" and "<tool_call>" in system["content"] and "get_weather" in system["content"]
    model.chat(ASK, [WEATHER])
    assert len(server.requests) == 3 and "tools" not in server.requests[2]  # remembered, no second rejection


def test_native_tools_flag_off_uses_text_from_the_start(server):
    client(server, native_tools=False).chat(ASK, [WEATHER])
    assert len(server.requests) == 1 and "tools" not in server.requests[0]


def test_flag_on_does_not_fall_back(server):
    server.script.append(("reject_tools",))
    with pytest.raises(ModelError, match="HTTP 400.*does not support tools"):
        client(server, native_tools=True).chat(ASK, [WEATHER])
    assert len(server.requests) == 1


def test_429_with_retry_after_then_success(server):
    server.script.append(("status", 429, {"error": {"message": "slow down"}}, {"Retry-After": "0.3"}))
    start = time.perf_counter()
    answer = client(server).chat(ASK)
    assert answer.content == "ok" and len(server.requests) == 2
    assert time.perf_counter() - start >= 0.3  # waited as told, not the 10 ms backoff


def test_500s_then_success(server):
    server.script.extend([("status", 500, {"error": "boom"}, {}), ("status", 502, {}, {})])
    assert client(server).chat(ASK).content == "ok"
    assert len(server.requests) == 3


def test_timeout_then_success(server):
    server.script.append(("sleep", 1.0, reply("late")))
    answer = client(server, timeout=0.2).chat(ASK)
    assert answer.content == "ok"
    assert len(server.requests) == 2


def test_closed_connection_then_success(server):
    server.script.append(("close",))
    assert client(server).chat(ASK).content == "ok"
    assert len(server.requests) == 2


def test_retries_run_out_with_a_clear_error(server):
    server.default = ("status", 503, {"error": {"message": "overloaded"}}, {})
    with pytest.raises(ModelError, match=r"gave up after 4 attempts; last error: HTTP 503: overloaded"):
        client(server).chat(ASK)
    assert len(server.requests) == 4


def test_timeouts_run_out_with_a_clear_error(server):
    server.default = ("sleep", 0.5, reply())
    with pytest.raises(ModelError, match="gave up after 2 attempts; last error: timed out"):
        client(server, timeout=0.1, retry=RetryPolicy(max_retries=1, backoff_base=0.01)).chat(ASK)


def test_unreachable_server(server):
    port_url = server.url
    server.httpd.shutdown()
    server.httpd.server_close()
    model = OpenAIChatModel(port_url, "m", retry=RetryPolicy(max_retries=1, backoff_base=0.01), timeout=1.0)
    with pytest.raises(ModelError, match="connection failed"):
        model.chat(ASK)
    server.httpd = type("Done", (), {"shutdown": lambda self: None, "server_close": lambda self: None})()


def test_client_errors_are_not_retried(server):
    server.script.append(("status", 401, {"error": {"message": "invalid api key"}}, {}))
    with pytest.raises(ModelError, match="HTTP 401: invalid api key"):
        client(server).chat(ASK)
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "body,expected",
    [
        (b"<html>Bad gateway</html>", "not JSON"),
        (b'["a list"]', "expected a JSON object"),
        (b'{"id": "x"}', "no 'choices' list"),
        (b'{"choices": []}', "no 'choices' list"),
        (b'{"choices": [{"text": "completion-style"}]}', "no 'message' object"),
    ],
)
def test_malformed_bodies_raise_model_error(server, body, expected):
    server.script.append(("raw", body))
    with pytest.raises(ModelError, match=expected):
        client(server).chat(ASK)


def test_odd_but_valid_bodies(server):
    server.script.append(("json", {"choices": [{"message": {"content": [{"type": "text", "text": "par"}, {"type": "text", "text": "ts"}]}}], "usage": "n/a"}))
    answer = client(server).chat(ASK)
    assert answer.content == "parts" and answer.usage.prompt_tokens == 0


def test_async_chat_runs_concurrently_and_retries(server):
    server.default = ("sleep", 0.3, reply("async"))
    server.script.append(("status", 500, {}, {}))
    model = client(server)

    async def main():
        return await asyncio.gather(*(model.achat(ASK) for _ in range(6)))

    start = time.perf_counter()
    answers = asyncio.run(main())
    elapsed = time.perf_counter() - start
    assert [a.content for a in answers] == ["async"] * 6
    assert len(server.requests) == 7
    assert elapsed < 6 * 0.3  # overlapped, not one after another
    assert asyncio.run(model.achat(ASK)).content == "async"  # a second event loop gets its own client


def test_async_text_fallback(server):
    server.script.append(("reject_tools",))
    model = client(server)
    answer = asyncio.run(model.achat(ASK, [WEATHER]))
    assert answer.content == "ok" and model.native_tools is False


def test_retry_policy_backoff_and_retry_after():
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=8.0, retry_after_cap=30.0)
    for attempt, nominal in [(0, 1.0), (1, 2.0), (2, 4.0), (5, 8.0)]:
        delays = [policy.delay(attempt) for _ in range(50)]
        assert all(0.5 * nominal <= d < 1.5 * nominal for d in delays)
        assert len(set(delays)) > 1  # jitter
    assert policy.delay(3, retry_after=2.5) == 2.5
    assert policy.delay(0, retry_after=999) == 30.0
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_bad_configuration_names_the_field():
    with pytest.raises(ValueError, match="base_url"):
        OpenAIChatModel("localhost:8000", "m")
    with pytest.raises(ValueError, match="model"):
        OpenAIChatModel("http://x", "")
