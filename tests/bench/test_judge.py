"""The LLM judge: verdict schema, retry on malformed output, caching and voting, over a real local HTTP server."""

from __future__ import annotations

import json
import re

import pytest

from tests.bench.openai_server import OpenAIStubServer
from tooltune.bench.episode import EpisodeKey, EpisodeRecord
from tooltune.bench.judge import (JudgeCase, LLMJudge, VerdictError, combine, judge_run, validate_verdict)
from tooltune.bench.judge.prompt import RUBRIC, extract_json, judge_messages
from tooltune.bench.judge.schema import DIMENSIONS
from tooltune.bench.store import RunStore
from tooltune.models.openai_http import OpenAIChatModel

CASE = JudgeCase("music@maya", "Play some music I like.", "Maya, 34, likes jazz at volume 35.",
                 "Time: 2024-09-06 07:00:00. Location: Home.",
                 personal=["Use the preferred volume 35.", "Pick jazz."], proactive=["Suggest more music."])


def verdict(final: int, n_personal: int = 2, n_proactive: int = 1, score=2) -> dict:
    def entries(n):
        return [{"keypoint": i + 1, "analysis": "ok", "score": score} for i in range(n)]
    return {
        "procedure": {"subpoints": [{"name": n, "analysis": "fine", "score": 2} for n in
                                    ("completeness", "no_unnecessary_actions", "accurate_tool_calls", "clear_summary")],
                      "final_score": final},
        "personalization": {"subpoints": entries(n_personal), "final_score": final},
        "proactivity": {"subpoints": entries(n_proactive), "final_score": max(0, final - 1)},
    }


def record(content: str, trial: int = 0) -> EpisodeRecord:
    trajectory = [{"role": "user", "content": CASE.query},
                  {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
                      "name": "play_music", "arguments": '{"music_name": "So What", "volume_level": 35}'}}]},
                  {"role": "tool", "tool_call_id": "c1", "name": "play_music", "content": '{"result": "ok"}'},
                  {"role": "assistant", "content": content}]
    return EpisodeRecord(EpisodeKey(CASE.case_id, "fc", "given", trial), "maya", ["music"], trajectory, [], [], 2,
                         "answer", ["play_music"], 0, 0, 0.1)


def counts_from(body: dict) -> tuple[int, int]:
    text = next(m["content"] for m in body["messages"] if m["role"] == "user")
    personal = int(re.search(r"Personalization key points \((\d+)\)", text).group(1))
    proactive = int(re.search(r"Proactivity key points \((\d+)\)", text).group(1))
    return personal, proactive


def test_validate_verdict_names_the_bad_field() -> None:
    assert validate_verdict(verdict(4), 2, 1)["procedure"]["final_score"] == 4
    bad = verdict(4)
    bad["personalization"]["subpoints"][0]["score"] = 3
    with pytest.raises(VerdictError, match="personalization/subpoints/0/score"):
        validate_verdict(bad, 2, 1)
    with pytest.raises(VerdictError, match="final_score"):
        validate_verdict(verdict(6), 2, 1)
    with pytest.raises(VerdictError, match="personalization/subpoints: expected 3"):
        validate_verdict(verdict(4), 3, 1)
    with pytest.raises(VerdictError, match="proactivity"):
        validate_verdict({k: v for k, v in verdict(4).items() if k != "proactivity"}, 2, 1)
    na = verdict(3, score="not applicable")
    assert validate_verdict(na, 2, 1) is na


def test_prompt_carries_the_graded_rubric_for_every_dimension_and_level() -> None:
    assert set(RUBRIC) == set(DIMENSIONS)
    system = judge_messages(CASE.query, CASE.profile, CASE.context, CASE.personal, CASE.proactive, [])[0]["content"]
    for name in DIMENSIONS:
        assert sorted(RUBRIC[name]) == [0, 1, 2, 3, 4, 5], name
        section = system[system.index(f"{name.capitalize()}:\n"):]
        for level in range(6):
            assert f"  {level}: {RUBRIC[name][level]}" in section, (name, level)
    assert len({text for levels in RUBRIC.values() for text in levels.values()}) == 18  # no level repeats another


def test_extract_json_from_prose_and_fences() -> None:
    assert extract_json('Sure!\n```json\n{"a": {"b": 1}}\n```') == {"a": {"b": 1}}
    assert extract_json('{broken {"ok": true}') == {"ok": True}
    with pytest.raises(ValueError, match="no JSON"):
        extract_json("nothing here")


def test_judge_retries_malformed_output_then_caches(tmp_path) -> None:
    def responder(body: dict) -> dict:
        # the first answer to every new conversation is malformed; the retry (which carries the error) is valid
        if len(body["messages"]) == 2:
            return {"content": "The agent did well, I'd say 4/5."}
        assert "not a valid verdict" in body["messages"][-1]["content"]
        personal, proactive = counts_from(body)
        return {"content": "```json\n" + json.dumps(verdict(4, personal, proactive)) + "\n```"}

    store = RunStore(tmp_path)
    with OpenAIStubServer(responder) as server:
        judge = LLMJudge(OpenAIChatModel(server.base_url, "judge-a"), name="judge-a")
        records = [record("Playing So What at 35."), record("Playing So What at 35. More jazz?", trial=1)]
        out = judge_run(records, lambda _: CASE, [judge], store, progress=False)
        assert len(server.requests) == 4  # two episodes x (malformed + retry)
        assert out[records[0].key.id]["procedure"] == 4.0 and out[records[0].key.id]["proactivity"] == 3.0
        assert out[records[0].key.id]["personalization_points"] == [2.0, 2.0]
        # same trajectories, same judge: answered from the cache, no request
        again = judge_run(records, lambda _: CASE, [judge], store, progress=False)
        assert len(server.requests) == 4 and again == out
        # a changed trajectory is judged again
        judge_run([record("Something else.")], lambda _: CASE, [judge], store, progress=False)
        assert len(server.requests) == 6
        # first request: temperature 0, system prompt with the four procedure sub-points, key points listed
        first = server.requests[0]
        assert first["temperature"] == 0.0
        assert all(p in first["messages"][0]["content"] for p in ("completeness", "clear_summary"))
        assert "Use the preferred volume 35." in first["messages"][1]["content"]
        assert "TOOL CALL play_music" in first["messages"][1]["content"]


def test_judge_gives_up_after_attempts_and_marks_episode(tmp_path) -> None:
    with OpenAIStubServer(lambda body: {"content": '{"procedure": 5}'}) as server:
        judge = LLMJudge(OpenAIChatModel(server.base_url, "stubborn"), max_attempts=2)
        out = judge_run([record("x")], lambda _: CASE, [judge], RunStore(tmp_path), progress=False)
        assert len(server.requests) == 2
        [verdict_] = out.values()
        assert verdict_["error"] == "no valid verdict" and "2 attempts" in verdict_["failures"][0]


def test_several_judges_vote_by_median(tmp_path) -> None:
    finals = {"a": 1, "b": 4, "c": 5}

    def responder(body: dict) -> dict:
        personal, proactive = counts_from(body)
        return {"content": json.dumps(verdict(finals[body["model"]], personal, proactive))}

    with OpenAIStubServer(responder) as server:
        judges = [LLMJudge(OpenAIChatModel(server.base_url, name), name=name) for name in finals]
        out = judge_run([record("x")], lambda _: CASE, judges, RunStore(tmp_path), progress=False)
    [combined] = out.values()
    assert combined["judges"] == ["a", "b", "c"]
    assert combined["procedure"] == 4.0 and combined["proactivity"] == 3.0 and combined["procedure_spread"] == 4.0


def test_combine_ignores_not_applicable_points() -> None:
    a, b = verdict(2, score=2), verdict(4, score="not applicable")
    combined = combine({"a": a, "b": b})
    assert combined["procedure"] == 3.0
    assert combined["personalization_points"] == [2.0, 2.0]
    assert combine({"b": b})["personalization_points"] == [None, None]
