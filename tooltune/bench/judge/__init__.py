"""Judges: the deterministic key-point checker (replayed) and LLM key-point judges that can vote."""

from tooltune.bench.judge.deterministic import recheck
from tooltune.bench.judge.llm import JudgeCase, JudgeFailed, LLMJudge, cache_key, judge_case, trajectory_hash
from tooltune.bench.judge.panel import judge_run
from tooltune.bench.judge.schema import VERDICT_SCHEMA, VerdictError, validate_verdict
from tooltune.bench.judge.vote import combine

__all__ = ["JudgeCase", "JudgeFailed", "LLMJudge", "VERDICT_SCHEMA", "VerdictError", "cache_key", "combine",
           "judge_case", "judge_run", "recheck", "trajectory_hash", "validate_verdict"]
