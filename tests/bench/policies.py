"""Scripted agent policies shared by the bench tests (and a kill-mid-run entry point)."""

from __future__ import annotations

import os
import signal
import sys

from tooltune.models.types import AssistantMessage, ToolCall


def music_policy(messages: list[dict], tools: list[dict] | None) -> AssistantMessage:
    """Play a favourite at volume 35, then answer: two turns per episode."""
    if messages[-1]["role"] == "tool":
        return AssistantMessage(content="Playing Clair de Lune at volume 35.")
    return AssistantMessage(tool_calls=[ToolCall(id="c", name="play_music",
                                                 arguments={"music_name": "Clair de Lune", "volume_level": 35})])


def killing_policy(kill_at: int):
    """`music_policy`, but the process dies by SIGKILL at model call number `kill_at` (mid-episode)."""
    count = {"n": 0}

    def policy(messages: list[dict], tools: list[dict] | None) -> AssistantMessage:
        count["n"] += 1
        if count["n"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return music_policy(messages, tools)

    return policy


if __name__ == "__main__":  # python -m tests.bench.policies RUN_DIR KILL_AT
    from tests.bench.fakes import FakeSuite, fake_check, fake_opening
    from tooltune.bench.config import RunConfig
    from tooltune.bench.runner import Harness, Runner
    from tooltune.bench.store import RunStore
    from tooltune.models.scripted import ScriptedModel

    suite = FakeSuite()
    config = RunConfig(model="scripted", trials=2, batch_size=1)
    store = RunStore(sys.argv[1])
    harness = Harness(suite.open_world, fake_opening, fake_check)
    Runner(ScriptedModel(killing_policy(int(sys.argv[2]))), suite, config, store, harness, progress=False).run()
