"""A ChatModel over any OpenAI-compatible chat-completions server (vLLM, llama.cpp server, hosted APIs).

Native `tools`/`tool_calls` are used unless the server says it has none (then the prompted
`<tool_call>` text protocol takes over for the rest of the session). `tool_choice` goes to the server
with native tools; with the text protocol, "none" leaves the tools out of the prompt and the answer
unread for calls, "required" / a named function are asked for in the prompt (calls to other tools
become parse errors). Failures that may pass (429, 5xx,
connection errors, timeouts) are retried with exponential backoff and jitter, honouring Retry-After;
anything else, or running out of retries, raises a `ModelError` that says what went wrong.

The API key goes only over https or to a loopback host (plain http elsewhere needs `allow_insecure_key`), a
URL carrying credentials is refused (the URL ends up in run configs and reports), and error messages never
repeat the key.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import os
import random
import re
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import httpx

from tooltune.models.base import ChatModel, ModelError
from tooltune.models.text_protocol import content_text, render_text_protocol, tool_names
from tooltune.models.toolcall_parser import RawCall, calls_from_json, finalize_calls, parse_tool_calls
from tooltune.models.types import (
    AssistantMessage,
    GenerationConfig,
    Message,
    ToolCall,
    ToolChoice,
    ToolSchema,
    Usage,
    chosen_function,
    normalize_tool_choice,
)

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
_SECRET_PARAMETER = re.compile(r"key|token|secret|passw|signature|^sig$|auth|credential", re.IGNORECASE)
_TOOL_REJECTION_STATUSES = frozenset({400, 404, 422, 500, 501})


# every connection in flight stays open for the next request (httpx keeps only 20 by default: with more
# episodes in flight than that, each request beyond them would open a new connection)
KEEP_ALL_ALIVE = httpx.Limits(max_connections=None, max_keepalive_connections=None)


@dataclass
class RetryPolicy:
    """How hard to try: attempts = retries + 1; delay = min(cap, base * 2**attempt) * jitter in [0.5, 1.5)."""

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    retry_after_cap: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_cap)
        return min(self.backoff_cap, self.backoff_base * 2**attempt) * (0.5 + random.random())


class _Retry(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class _ToolsRejected(Exception):
    pass


class OpenAIChatModel(ChatModel):
    """Chat completions over HTTP with native or prompted tool calling."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        native_tools: bool | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        extra_body: dict[str, Any] | None = None,
        allow_insecure_key: bool = False,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if not model:
            raise ValueError("model must be a non-empty model name")
        credentials = url_credentials(base_url)
        if credentials:
            raise ModelError(f"the URL carries credentials ({', '.join(credentials)}); it is saved in run configs "
                             f"and reports, so give the key in ${api_key_env} instead")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.name = f"openai:{base_url}#{model}"
        key = api_key if api_key is not None else os.environ.get(api_key_env)
        self._secret = key or None
        # withheld: a key that would travel in clear text to another machine, unless the user allowed it
        self._key_withheld = bool(key) and not allow_insecure_key and not sends_privately(base_url)
        self._key_env = api_key_env
        sent = key if key and not self._key_withheld else None
        self._headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {sent}"} if sent else {})
        self.native_tools = native_tools
        self.retry = retry or RetryPolicy()
        self.timeout = httpx.Timeout(timeout)
        self.extra_body = dict(extra_body or {})
        self._client: httpx.Client | None = None
        self._async_clients: dict[int, httpx.AsyncClient] = {}
        self.load_seconds: float | None = None

    # ------------------------------------------------------------ public API

    def chat(
        self, messages: list[Message], tools: list[ToolSchema] | None = None, config: GenerationConfig | None = None,
        *, tool_choice: ToolChoice | None = None,
    ) -> AssistantMessage:
        choice = normalize_tool_choice(tool_choice, tool_names(tools))
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, headers=self._headers, limits=KEEP_ALL_ALIVE)
        try:
            try:
                return self._parse(self._send_sync(self._body(messages, tools, config, choice)), tools, choice)
            except _ToolsRejected:
                self.native_tools = False
                return self._parse(self._send_sync(self._body(messages, tools, config, choice)), tools, choice)
        except ModelError as error:
            raise self._redacted(error) from None

    async def achat(
        self, messages: list[Message], tools: list[ToolSchema] | None = None, config: GenerationConfig | None = None,
        *, tool_choice: ToolChoice | None = None,
    ) -> AssistantMessage:
        choice = normalize_tool_choice(tool_choice, tool_names(tools))
        client = self._async_client()
        try:
            try:
                return self._parse(await self._send_async(client, self._body(messages, tools, config, choice)), tools,
                                   choice)
            except _ToolsRejected:
                self.native_tools = False
                return self._parse(await self._send_async(client, self._body(messages, tools, config, choice)), tools,
                                   choice)
        except ModelError as error:
            raise self._redacted(error) from None

    def _redacted(self, error: ModelError) -> ModelError:
        """The error with the API key blanked out of its message (servers may echo it)."""
        text = str(error)
        if self._secret and self._secret in text:
            return ModelError(text.replace(self._secret, "***"))
        return error

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self._async_clients.clear()  # bound to their event loops; closed with them

    # ------------------------------------------------------------ transport with retries

    def _send_sync(self, body: dict[str, Any]) -> dict[str, Any]:
        assert self._client is not None
        for attempt in range(self.retry.max_retries + 1):
            try:
                response = self._client.post(self.url, json=body)
                return self._check(response, body)
            except (httpx.TransportError, _Retry) as exc:
                self._give_up_if_last(attempt, exc)
                time.sleep(self.retry.delay(attempt, getattr(exc, "retry_after", None)))
        raise AssertionError("unreachable")

    async def _send_async(self, client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(self.retry.max_retries + 1):
            try:
                response = await client.post(self.url, json=body)
                return self._check(response, body)
            except (httpx.TransportError, _Retry) as exc:
                self._give_up_if_last(attempt, exc)
                await asyncio.sleep(self.retry.delay(attempt, getattr(exc, "retry_after", None)))
        raise AssertionError("unreachable")

    def _async_client(self) -> httpx.AsyncClient:
        loop_id = id(asyncio.get_running_loop())
        if loop_id not in self._async_clients:
            self._async_clients = {loop_id: httpx.AsyncClient(timeout=self.timeout, headers=self._headers,
                                                                limits=KEEP_ALL_ALIVE)}
        return self._async_clients[loop_id]

    def _give_up_if_last(self, attempt: int, exc: Exception) -> None:
        if attempt >= self.retry.max_retries:
            reason = describe_failure(exc)
            raise ModelError(f"{self.url}: gave up after {attempt + 1} attempts; last error: {reason}") from exc

    def _check(self, response: httpx.Response, body: dict[str, Any]) -> dict[str, Any]:
        """The decoded JSON body of a 2xx answer; raises _Retry, _ToolsRejected or ModelError otherwise."""
        status = response.status_code
        if status >= 400:
            detail = error_detail(response)
            if "tools" in body and self.native_tools is None and status in _TOOL_REJECTION_STATUSES and "tool" in detail.lower():
                raise _ToolsRejected(detail)
            if status in RETRY_STATUSES or status >= 500:
                raise _Retry(f"HTTP {status}: {detail}", parse_retry_after(response.headers.get("retry-after")))
            if status in (401, 403) and self._key_withheld:
                detail += (f" (the API key in ${self._key_env} was not sent: {self.url} is plain http to another "
                           "machine; use https, or allow it with --allow-insecure-key)")
            raise ModelError(f"{self.url}: HTTP {status}: {detail}")
        try:
            decoded = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelError(f"{self.url}: the response body is not JSON: {response.text[:200]!r}") from exc
        if not isinstance(decoded, dict):
            raise ModelError(f"{self.url}: expected a JSON object, got {type(decoded).__name__}")
        if self.native_tools is None and "tools" in body:
            self.native_tools = True
        return decoded

    # ------------------------------------------------------------ request / response formats

    def _body(self, messages: list[Message], tools: list[ToolSchema] | None, config: GenerationConfig | None,
              tool_choice: ToolChoice | None = None) -> dict[str, Any]:
        config = config or GenerationConfig()
        native = bool(tools) and self.native_tools is not False
        if native or not tools:
            sent = api_messages(messages)
        else:  # text protocol; under "none" the model is not shown tools it may not call
            sent = render_text_protocol(messages, None if tool_choice == "none" else tools, tool_choice)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": sent,
            "max_tokens": config.max_new_tokens,
            "temperature": config.temperature,
            "top_p": config.top_p,
        }
        if config.seed is not None:
            body["seed"] = config.seed
        if config.stop:
            body["stop"] = list(config.stop)
        if native:
            body["tools"] = tools
            if tool_choice is not None:
                body["tool_choice"] = tool_choice
        return body | self.extra_body

    def _parse(self, payload: dict[str, Any], tools: list[ToolSchema] | None,
               tool_choice: ToolChoice | None = None) -> AssistantMessage:
        choices = payload.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise ModelError(f"{self.url}: malformed response, no 'choices' list: {json.dumps(payload)[:200]}")
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise ModelError(f"{self.url}: malformed response, choices[0] has no 'message' object")
        text = content_text(message.get("content"))
        usage = _usage(payload.get("usage"))
        raw_calls = message.get("tool_calls") or []
        if raw_calls:
            return AssistantMessage(text or None, *_native_calls(raw_calls, tool_names(tools), payload), usage=usage, raw_text=text)
        if tools and tool_choice != "none":
            name = chosen_function(tool_choice)
            parsed = parse_tool_calls(text, [name] if name else tool_names(tools))
            return AssistantMessage(parsed.content, parsed.tool_calls, parsed.errors, usage, raw_text=text)
        return AssistantMessage(text or None, usage=usage, raw_text=text)


def url_credentials(url: str) -> list[str]:
    """The parts of a URL that carry credentials: user:password@ and query parameters named like keys."""
    parts = urllib.parse.urlsplit(url)
    found = ["user:password@host"] if "@" in parts.netloc else []
    found += [f"?{name}=" for name, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
              if _SECRET_PARAMETER.search(name)]
    return found


def sends_privately(url: str) -> bool:
    """True when what is sent to `url` stays encrypted or on this machine: https, or a loopback host."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        return True
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _native_calls(raw_calls: Any, known: list[str], payload: dict[str, Any]) -> tuple[list[ToolCall], list[str]]:
    """Structured calls from a `tool_calls` list; malformed entries become readable errors."""
    found: list[RawCall] = []
    errors: list[str] = []
    calls_from_json(raw_calls if isinstance(raw_calls, list) else [raw_calls], found, errors, "tool_calls")
    return finalize_calls(found, set(known) if known else None, errors, json.dumps(payload)), errors


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    prompt, completion = raw.get("prompt_tokens"), raw.get("completion_tokens")
    return Usage(prompt if isinstance(prompt, int) else 0, completion if isinstance(completion, int) else 0)


def api_messages(messages: list[Message]) -> list[Message]:
    """Messages as the API expects them: tool-call arguments JSON-encoded, content never missing."""
    out = []
    for message in messages:
        message = dict(message)
        if message.get("tool_calls"):
            message["tool_calls"] = [_encoded_call(call) for call in message["tool_calls"]]
            message.setdefault("content", None)
        elif message.get("content") is None:
            message["content"] = ""
        out.append(message)
    return out


def _encoded_call(call: dict[str, Any]) -> dict[str, Any]:
    function = dict(call.get("function", {}))
    if not isinstance(function.get("arguments"), str):
        function["arguments"] = json.dumps(function.get("arguments") or {}, ensure_ascii=False)
    return {"id": call.get("id", ""), "type": "function", "function": function}


def error_detail(response: httpx.Response) -> str:
    """The server's error message ({"error": {"message"}} when present), shortened."""
    try:
        payload = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:300] or response.reason_phrase
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:300]
    if isinstance(error, str):
        return error[:300]
    return json.dumps(payload)[:300]


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def describe_failure(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.TransportError):
        return f"connection failed ({type(exc).__name__}: {exc})"
    return str(exc)
