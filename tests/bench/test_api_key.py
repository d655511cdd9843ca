"""The API key: sent only over https or to this machine unless allowed, never kept in a URL, never in errors."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.bench.cli import fake_models, invoke  # noqa: F401 - fake_models is a fixture
from tooltune.bench.config import RunConfig, RunConfigError
from tooltune.models.base import ModelError
from tooltune.models.openai_http import OpenAIChatModel

KEY = "sk-test-0123456789"


def sent_headers(url: str, reply: httpx.Response | None = None, **options) -> httpx.Headers:
    """The headers of the request the model sends to `url` (through a mock transport, nothing leaves)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return reply or httpx.Response(200, json={"choices": [{"message": {"role": "assistant", "content": "hi"}}]})

    model = OpenAIChatModel(url, "m", api_key=KEY, **options)
    model._client = httpx.Client(transport=httpx.MockTransport(handler), headers=model._headers)
    model.chat([{"role": "user", "content": "hello"}])
    return seen[0].headers


@pytest.mark.parametrize("url", ["https://api.example.com/v1", "http://127.0.0.1:8000/v1", "http://localhost/v1",
                                 "http://[::1]:8000/v1"])
def test_the_key_goes_over_https_or_to_this_machine(url: str) -> None:
    assert sent_headers(url)["authorization"] == f"Bearer {KEY}"


def test_the_key_never_goes_in_clear_text_to_another_machine_unless_allowed() -> None:
    assert "authorization" not in sent_headers("http://10.0.0.7:8000/v1")
    assert "authorization" not in sent_headers("http://127.0.0.1.example.com/v1")
    assert sent_headers("http://10.0.0.7:8000/v1", allow_insecure_key=True)["authorization"] == f"Bearer {KEY}"


def test_errors_never_repeat_the_key_and_say_why_it_was_withheld() -> None:
    echo = httpx.Response(401, json={"error": {"message": f"Incorrect API key provided: {KEY}"}})
    with pytest.raises(ModelError) as error:
        sent_headers("https://api.example.com/v1", reply=echo)
    assert KEY not in str(error.value) and "***" in str(error.value)
    with pytest.raises(ModelError, match="was not sent.*--allow-insecure-key"):
        sent_headers("http://10.0.0.7/v1", reply=httpx.Response(401, json={"error": {"message": "no key"}}))


@pytest.mark.parametrize("url", [f"https://me:{KEY}@api.example.com/v1", f"https://api.example.com/v1?api_key={KEY}"])
def test_a_key_in_the_url_is_refused_before_anything_is_written(url: str, tmp_path: Path, fake_models,
                                                                capsys) -> None:
    with pytest.raises(ModelError, match="credentials"):
        OpenAIChatModel(url, "m")
    with pytest.raises(RunConfigError, match="credentials"):
        RunConfig(model=f"openai:{url}#m")
    code, out, err = invoke(["bench", "run", "--model", f"openai:{url}#m", "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and "credentials" in err and KEY not in out + err
    assert not (tmp_path / "run").exists()
    code, out, err = invoke(["bench", "run", "--model", "scripted", "--judge", f"openai:{url}#judge", "--out",
                             str(tmp_path / "run")], capsys)
    assert code == 2 and "--judge" in err and KEY not in out + err
    assert not (tmp_path / "run").exists()
    assert OpenAIChatModel("https://api.example.com/v1?api-version=2024-06-01", "m")  # not a secret
