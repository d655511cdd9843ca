"""The personalized tool-use benchmark: strategies, runner, judges, scores, report, ETAPP import.

Python entry points: `run_benchmark(RunConfig(...), run_dir)` runs (or resumes) a run and writes its
scores and report; `rescore_run(run_dir, judges=...)` re-scores a saved run without the agent model.
"""

from tooltune.bench.config import RunConfig, RunConfigError
from tooltune.bench.episode import EpisodeKey, EpisodeRecord, EpisodeState
from tooltune.bench.run import RunResult, rescore_run, run_benchmark
from tooltune.bench.runner import Harness, Runner, run_episode
from tooltune.bench.strategies import STRATEGIES, Strategy, get_strategy

__all__ = ["STRATEGIES", "EpisodeKey", "EpisodeRecord", "EpisodeState", "Harness", "RunConfig", "RunConfigError",
           "RunResult", "Runner", "Strategy", "get_strategy", "rescore_run", "run_benchmark", "run_episode"]
