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
    return [task.instruction for task in REGISTRY.values()]
