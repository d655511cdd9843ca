"""`sandbox.apps.APPS` tells where every piece of every app lives, and it stays true."""

from __future__ import annotations

import importlib

from tooltune.sandbox.apps import APPS, SHARED_TABLES
from tooltune.sandbox.state import SCHEMA
from tooltune.sandbox.tasks import REGISTRY, load_instructions
from tooltune.sandbox.tools import APP_NAMES, all_tools, tools_of_module
from tooltune.sandbox.users import load_users


def _module(path: str):
    return importlib.import_module(f"tooltune.sandbox.{path}")


def test_every_app_is_indexed():
    assert list(APPS) == list(APP_NAMES)


def test_each_tool_is_in_its_apps_module():
    for app, pieces in APPS.items():
        assert {t.name for t in tools_of_module(_module(pieces.tools))} == {t.name for t in all_tools() if t.app == app}


def test_each_table_belongs_to_one_app():
    owned = [table for pieces in APPS.values() for table in pieces.tables] + list(SHARED_TABLES)
    assert sorted(owned) == sorted(SCHEMA)


def test_data_generators_exist():
    for pieces in APPS.values():
        for path in pieces.data:
            module, _, name = path.rpartition(".")
            assert callable(getattr(_module(module), name)), path


def test_instructions_sit_with_their_main_app_or_in_multi():
    load_instructions()
    for task in REGISTRY.values():
        module = task.solve.__module__.removeprefix("tooltune.sandbox.")
        assert module in (APPS[task.instruction.apps[0]].tasks, "tasks.multi"), task.instruction.id


def test_preferences_are_keyed_by_app():
    assert all(set(user.preferences) <= set(APPS) for user in load_users())
