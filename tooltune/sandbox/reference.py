"""The reference policy: each instruction's solver run in the sandbox, honouring the user's preferences.

Gold (`gold_trajectory`), literal and preference-blind (`blind_trajectory`), or proactive without using
what it observes (`heedless_trajectory`); `session.py` says what each run does differently.
"""

from __future__ import annotations

from tooltune.sandbox.cases import Case
from tooltune.sandbox.session import BlindStop, ReferenceError, Session
from tooltune.sandbox.suite import builtin_suite
from tooltune.sandbox.tasks import REGISTRY, load_instructions
from tooltune.sandbox.world import World


def run_policy(case: Case, world: World, *, blind: bool = False, heedless: bool = False,
               include_profile: bool = True) -> list[dict]:
    """Run the case's reference solver in `world`; returns the OpenAI messages of the trajectory."""
    if not REGISTRY:
        load_instructions()
    task = REGISTRY.get(case.instruction.id)
    if task is None:
        raise KeyError(f"no reference solver for instruction {case.instruction.id!r}")
    session = Session(case, world, blind=blind, heedless=heedless, include_profile=include_profile)
    try:
        task.solve(session)
    except BlindStop as stop:
        session.say(f"Sorry, I could not finish this: {stop}")
    except (LookupError, StopIteration) as stop:
        if not blind:
            raise
        # generic arguments can leave the blind policy without a usable result (e.g. nothing found)
        session.say(f"Sorry, I could not finish this ({type(stop).__name__}).")
    if session.answer is None:
        raise ReferenceError(f"case {case.id}: the solver gave no final answer")
    return session.messages


def gold_trajectory(case: Case, world: World | None = None, include_profile: bool = True) -> list[dict]:
    """System + user + assistant tool calls + tool results + final answer, honouring preferences.

    Without a world, one is opened from the built-in suite (and closed afterwards).
    """
    if world is not None:
        return run_policy(case, world, include_profile=include_profile)
    with builtin_suite().open_world(case) as own:
        return run_policy(case, own, include_profile=include_profile)


def blind_trajectory(case: Case, world: World) -> list[dict]:
    """The literal, preference-blind baseline: same solver, generic preferences, no proactive steps."""
    return run_policy(case, world, blind=True)


def heedless_trajectory(case: Case, world: World) -> list[dict]:
    """The control for the checks: every proactive call and action made, nothing observed used."""
    return run_policy(case, world, heedless=True)
