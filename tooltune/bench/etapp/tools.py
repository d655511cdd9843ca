"""Mapping ETAPP's tools (toolkit/*/config.json) onto tooltune's sandbox tools.

Every functional ETAPP tool has a tooltune tool of the same name; tooltune's implementation and
schema are used (the world validates arguments against them). Parameter differences are reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tooltune.bench.etapp.report import ImportReport
from tooltune.sandbox.tools import RETRIEVAL_TOOL_NAMES, Tool, all_tools


def read_toolkit(root: Path, report: ImportReport) -> dict[str, dict[str, Any]]:
    """Upstream tool name -> its OpenAI schema, from every toolkit/*/config.json."""
    schemas: dict[str, dict[str, Any]] = {}
    configs = sorted((root / "toolkit").glob("*/config.json"))
    if not configs:
        report.add("toolkit/*/config.json", "missing", "tool mapping", "cases keep their tool names unchecked")
    for path in configs:
        rel = str(path.relative_to(root))
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            report.add(rel, "unreadable", "tool mapping", f"{type(error).__name__}: {error}")
            continue
        problem = toolkit_problem(entries)
        if problem:
            report.add(rel, "unreadable", "tool mapping", problem)
            continue
        schemas.update((entry["function"]["name"], entry["function"]) for entry in entries)
        report.add(rel, "found", "tool mapping")
    return schemas


def toolkit_problem(entries: Any) -> str | None:
    """What is wrong with a toolkit config.json (a list of OpenAI tool schemas), naming the entry and field."""
    if not isinstance(entries, list):
        return f"expected a list of tool schemas, got {type(entries).__name__}"
    for index, entry in enumerate(entries):
        function = entry.get("function") if isinstance(entry, dict) else None
        if not isinstance(function, dict):
            return f"[{index}].function: expected an object"
        if not isinstance(function.get("name"), str) or not function["name"]:
            return f"[{index}].function.name: expected a non-empty string, got {function.get('name')!r:.60}"
        parameters = function.get("parameters", {})
        if not isinstance(parameters, dict) or not isinstance(parameters.get("properties", {}), dict):
            return f"[{index}].function.parameters: expected an object with an object of properties"
        if not isinstance(parameters.get("required", []), list):
            return f"[{index}].function.parameters.required: expected a list"
    return None


def map_tools(upstream: dict[str, dict[str, Any]], report: ImportReport) -> dict[str, Tool]:
    """Upstream tool name -> the tooltune tool that runs it; differences go to the report."""
    ours = {t.name: t for t in all_tools()}
    mapped: dict[str, Tool] = {}
    unmapped = []
    for name, schema in sorted(upstream.items()):
        if name in RETRIEVAL_TOOL_NAMES:
            continue
        tool = ours.get(name)
        if tool is None:
            unmapped.append(name)
            continue
        mapped[name] = tool
        theirs = set((schema.get("parameters") or {}).get("properties") or {})
        params = tool.schema["function"]["parameters"]
        mine, required = set(params.get("properties", {})), set(params.get("required", []))
        only_theirs, missing = sorted(theirs - mine), sorted(required - theirs)
        if only_theirs or missing:
            report.tool_notes.append(
                f"{name}: tooltune schema used; upstream-only parameters {only_theirs or '-'}, "
                f"tooltune-required parameters absent upstream {missing or '-'}")
    report.tool_notes.insert(0, f"{len(mapped)} of {len(upstream) - len(set(upstream) & set(RETRIEVAL_TOOL_NAMES))} "
                                f"upstream tools mapped onto tooltune tools by name")
    if unmapped:
        report.tool_notes.append(f"no tooltune counterpart (dropped from cases): {unmapped}")
    return mapped
