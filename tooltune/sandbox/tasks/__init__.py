"""Built-in instructions with their key points and reference solvers, one module per area."""

from __future__ import annotations

import importlib

from tooltune.sandbox.cases import Instruction

TASK_MODULES = ("music", "calendar", "email", "health", "navigation", "shopping", "smart_home", "weather_web", "multi")


def all_instructions() -> list[Instruction]:
    """Every built-in instruction, module by module, in a stable order."""
    from tooltune.sandbox.tasks.base import REGISTRY

    for name in TASK_MODULES:
        importlib.import_module(f"tooltune.sandbox.tasks.{name}")
    # modules import each other's helpers, so registration order is not module order: sort by module
    position = {f"tooltune.sandbox.tasks.{name}": i for i, name in enumerate(TASK_MODULES)}
    tasks = sorted(enumerate(REGISTRY.values()), key=lambda item: (position[item[1].solve.__module__], item[0]))
    return [task.instruction for _, task in tasks]
