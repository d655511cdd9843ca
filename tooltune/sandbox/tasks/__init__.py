"""Built-in instructions with their key points and reference solvers, one module per area."""

from __future__ import annotations

import importlib

from tooltune.sandbox.cases import Case, Instruction, make_cases
from tooltune.sandbox.tasks.base import REGISTRY
from tooltune.sandbox.users import load_users

TASK_MODULES = ("music", "calendar", "email", "health", "navigation", "shopping", "smart_home", "weather_web", "multi")


def load_instructions() -> list[Instruction]:
    """The built-in instructions (at least 50), across all apps, module by module, in a stable order."""
    for name in TASK_MODULES:
        importlib.import_module(f"tooltune.sandbox.tasks.{name}")
    # modules import each other's helpers, so registration order is not module order: sort by module
    position = {f"tooltune.sandbox.tasks.{name}": i for i, name in enumerate(TASK_MODULES)}
    tasks = sorted(enumerate(REGISTRY.values()), key=lambda item: (position[item[1].solve.__module__], item[0]))
    return [task.instruction for _, task in tasks]


def load_cases() -> list[Case]:
    """Built-in instructions x built-in users (at least 800 cases)."""
    return make_cases(load_instructions(), load_users())
