"""One user's internalized adapter as a product: `tooltune chat --adapter DIR` and `tooltune bench run --adapter
DIR --no-profile` serve that user with no profile text in the prompt (tiny checkpoint, tiny adapter)."""

from __future__ import annotations

import json

import pytest

from tests.train.run_cli import run_cli
from tests.train.tiny import tiny_llama, tiny_tokenizer

USER = "maya_chen"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(checkpoint, internalized adapter, plain adapter): the adapters saved as the profile experiment saves them."""
    from tooltune.methods.internalize.config import ProfileConfig
    from tooltune.methods.internalize.method import add_lora, train_curriculum
    from tooltune.methods.internalize.profile import adapter_metadata
    from tooltune.methods.internalize.serve import user_opening

    root = tmp_path_factory.mktemp("served")
    tok = tiny_tokenizer()
    tiny_llama(len(tok)).save_pretrained(root / "tiny")
    tok.save_pretrained(root / "tiny")
    config = ProfileConfig(train={"output_dir": str(root / "run"), "max_length": 512, "batch_size": 1}, user=USER,
                           apps=["music"], lora={"r": 2, "alpha": 4})
    rows = [{"messages": [*user_opening(USER, "Play some music."), {"role": "assistant", "content": "Playing."}]}]
    for name, metadata in (("skintern", adapter_metadata(config)), ("plain", None)):
        model = tiny_llama(len(tok))
        add_lora(model, config.lora, config.seed)
        train_curriculum(model, tok, [rows], [1.0], config.train_config(name), names=["only"], metadata=metadata)
    return root / "tiny", root / "run" / "skintern" / "adapter", root / "run" / "plain" / "adapter"


@pytest.fixture()
def asked(monkeypatch):
    """Every message list the local model is asked, in order (the model still answers)."""
    from tooltune.models.hf_local import HFChatModel

    seen, original = [], HFChatModel.chat

    def chat(self, messages, *args, **kwargs):
        seen.append(messages)
        return original(self, messages, *args, **kwargs)

    monkeypatch.setattr(HFChatModel, "chat", chat)
    return seen


def profile_lines() -> list[str]:
    from tooltune.sandbox.prompts import render_profile
    from tooltune.sandbox.users import get_user

    return [line for line in render_profile(get_user(USER), ["music"]).splitlines() if "preferences" in line]


def test_chat_with_an_internalized_adapter_serves_its_user_without_the_profile(served, asked, capsys):
    checkpoint, adapter, plain = served
    code, _, err = run_cli(["chat", "Play something I like.", "--model", str(checkpoint), "--adapter", str(adapter),
                            "--max-new-tokens", "3"], capsys)
    assert code == 0, err
    assert f"[serving {USER}: profile internalized in the adapter, none in the prompt]" in err
    system, user = asked[-1]
    assert system["role"] == "system" and "personal assistant of Maya Chen" in system["content"]
    assert "User profile" not in system["content"] and not any(line in system["content"] for line in profile_lines())
    assert user == {"role": "user", "content": "Play something I like."}

    code, _, err = run_cli(["chat", "Hello.", "--model", str(checkpoint), "--adapter", str(plain),
                            "--max-new-tokens", "3"], capsys)
    assert code == 0 and "serving" not in err and asked[-1] == [{"role": "user", "content": "Hello."}]


def test_bench_run_with_an_internalized_adapter_and_no_profile(served, capsys, tmp_path):
    checkpoint, adapter, _ = served
    out = tmp_path / "bench"
    code, _, err = run_cli(["bench", "run", "--model", str(checkpoint), "--adapter", str(adapter), "--users", USER,
                                 "--apps", "music", "--limit", "1", "--no-profile", "--max-turns", "1",
                                 "--max-new-tokens", "3", "--out", str(out), "--quiet"], capsys)
    assert code == 0, err
    episodes = [json.loads(line) for line in (out / "trajectories.jsonl").read_text().splitlines()]
    assert episodes and all(e["user_id"] == USER for e in episodes)
    for episode in episodes:
        system = episode["trajectory"][0]
        assert system["role"] == "system" and "personal assistant of Maya Chen" in system["content"]
        assert "User profile" not in system["content"] and not any(line in system["content"] for line in profile_lines())
    settings = json.loads((out / "config.json").read_text())
    assert settings["adapter"] == str(adapter) and settings["include_profile"] is False


def test_only_an_internalized_profile_adapter_names_a_user(served, tmp_path):
    from tooltune.methods.internalize.errors import InternalizeError
    from tooltune.methods.internalize.serve import internalized_user, user_opening

    _, adapter, plain = served
    assert internalized_user(adapter) == {"method": "internalize", "user": USER, "apps": ["music"],
                                          "profile_in_prompt": False}
    (tmp_path / "adapter_config.json").write_text("not json")
    assert internalized_user(plain) is None and internalized_user(tmp_path) is None
    assert internalized_user(tmp_path / "missing") is None
    assert profile_lines()  # the user has music preferences the prompts above must leave out
    with pytest.raises(InternalizeError, match="user: no sandbox user 'nobody'"):
        user_opening("nobody", "hi")
