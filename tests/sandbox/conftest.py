"""Shared fixtures: the built-in suite (templates cached per process) and a fresh world."""

from __future__ import annotations

import pytest

from tooltune.sandbox.suite import Suite, builtin_suite
from tooltune.sandbox.world import World


@pytest.fixture(scope="session")
def suite() -> Suite:
    return builtin_suite()


@pytest.fixture()
def world(suite: Suite) -> World:
    """Maya Chen's world at noon on the base date."""
    user = next(u for u in suite.users if u.id == "maya_chen")
    template, start = suite.template(user)
    with World(template, "2024-09-06 12:00:00", start=start) as opened:
        yield opened
