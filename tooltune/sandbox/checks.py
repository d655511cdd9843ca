"""Deterministic key-point checks: predicate specs (plain dicts) decided from a trajectory and end state.

Spec types: `called`, `arg`, `arg_row`, `order`, `answer`, `row`, `count`, and the combinators `all`,
`any`, `not`. Values may refer to the user: {"pref": "music.volume"}, {"persona": "location"},
{"contact": "family"} (that contact's email), {"at": [1, "07:00"]} (a time relative to the base date),
{"map": value, "table": {...}}, {"pref_is": [path, value]} or {"sql": ..., "params": {...}} (a value read
from the end state: the first column of the first row, or of every row with "many": true). `count` counts
end-state rows, or with "scope": "original" only those that were there before the episode (so that an
agent's own new event does not count as a clash). As in ETAPP, a tool call counts only when the trajectory
shows its (non-error) result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tooltune.sandbox.cases import Case
from tooltune.sandbox.catalogue import BASE_DATE
from tooltune.sandbox.users import lookup
from tooltune.sandbox.world import World


@dataclass
class KeyPointResult:
    keypoint_id: str
    passed: bool | None  # None: free-text key point, for an LLM judge
    reason: str


@dataclass
class Call:
    name: str
    arguments: dict[str, Any]
    response: Any
    index: int

    @property
    def ok(self) -> bool:
        return not (isinstance(self.response, dict) and "error" in self.response)


def extract_calls(messages: list[dict]) -> list[Call]:
    """Tool calls of the trajectory that have a result message, in order."""
    results: dict[str, Any] = {}
    for message in messages:
        if message.get("role") == "tool" and message.get("tool_call_id"):
            try:
                results[message["tool_call_id"]] = json.loads(message.get("content") or "null")
            except (TypeError, json.JSONDecodeError):
                results[message["tool_call_id"]] = {"raw": message.get("content")}
    calls = []
    for message in messages:
        for tool_call in message.get("tool_calls") or []:
            if tool_call.get("id") not in results:
                continue
            function = tool_call.get("function", {})
            arguments = function.get("arguments") or {}
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments)
                except json.JSONDecodeError:
                    arguments = {}
            calls.append(Call(function.get("name", ""), arguments if isinstance(arguments, dict) else {},
                              results[tool_call["id"]], len(calls)))
    return calls


def final_answer(messages: list[dict]) -> str:
    for message in reversed(messages):
        if message.get("role") == "assistant" and message.get("content") and not message.get("tool_calls"):
            return str(message["content"])
    return ""


class _Checker:
    def __init__(self, case: Case, messages: list[dict], world: World) -> None:
        self.case, self.world = case, world
        self.user = case.user
        self.calls = [c for c in extract_calls(messages) if c.ok]
        self.answer = final_answer(messages)
        self._changed: dict[str, dict] = {}

    # --- values -------------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "pref" in value:
            return self.user.pref(value["pref"])
        if "persona" in value:
            return lookup(self.user.persona, value["persona"], f"user {self.user.id} persona")
        if "contact" in value:
            for person in self.user.pref("email.common_contacts"):
                if person["relation"] == value["contact"]:
                    return person["email"]
            raise KeyError(f"user {self.user.id} has no {value['contact']!r} contact")
        if "at" in value:
            offset, hhmm = value["at"]
            hhmm = self.resolve(hhmm)
            moment = datetime.combine(BASE_DATE + timedelta(days=offset), datetime.min.time())
            hour, minute = map(int, hhmm.split(":"))
            return (moment + timedelta(hours=hour, minutes=minute)).strftime("%Y-%m-%d %H:%M:%S")
        if "map" in value:
            return value["table"][self.resolve(value["map"])]
        if "pref_is" in value:
            path, expected = value["pref_is"]
            return self.user.pref(path) == expected
        if "sql" in value:
            params = {k: self.resolve(v) for k, v in value.get("params", {}).items()}
            params.setdefault("now", self.case.instruction.timestamp)
            cursor = self.world.db.execute(value["sql"], params)
            if value.get("many"):
                return [found[0] for found in cursor.fetchall()]
            found = cursor.fetchone()
            return found[0] if found else None
        raise ValueError(f"unknown value spec {value!r}")

    # --- predicates -------------------------------------------------------------------------
    def evaluate(self, spec: dict) -> tuple[bool, str]:
        kind = spec.get("type")
        method = getattr(self, f"_check_{kind}", None)
        if method is None:
            raise ValueError(f"unknown check type {kind!r} in {spec}")
        return method(spec)

    def _calls_of(self, tool: str) -> list[Call]:
        return [c for c in self.calls if c.name == tool]

    def _check_called(self, spec: dict) -> tuple[bool, str]:
        count = len(self._calls_of(spec["tool"]))
        needed = spec.get("min", 1)
        return count >= needed, f"{spec['tool']} called successfully {count} time(s), needed {needed}"

    def _over_calls(self, spec: dict, test: Any) -> tuple[bool, str]:
        calls = self._calls_of(spec["tool"])
        if not calls:
            return False, f"{spec['tool']} was not called successfully"
        outcomes = [test(c) for c in calls]
        passed = (all if spec.get("quantifier", "all") == "all" else any)(ok for ok, _ in outcomes)
        return passed, "; ".join(reason for _, reason in outcomes)

    def _check_arg(self, spec: dict) -> tuple[bool, str]:
        expected = self.resolve(spec["value"])

        def test(call: Call) -> tuple[bool, str]:
            if spec["arg"] not in call.arguments:
                return False, f"{call.name} without '{spec['arg']}'"
            actual = call.arguments[spec["arg"]]
            ok = compare(spec["op"], actual, expected)
            return ok, f"{call.name}.{spec['arg']}={actual!r} {spec['op']} {expected!r}: {ok}"

        return self._over_calls(spec, test)

    def _check_arg_row(self, spec: dict) -> tuple[bool, str]:
        expected = self.resolve(spec["value"])

        def test(call: Call) -> tuple[bool, str]:
            if spec["arg"] not in call.arguments:
                return False, f"{call.name} without '{spec['arg']}'"
            key = call.arguments[spec["arg"]]
            condition = f"lower({spec['key']}) = lower(?)" if isinstance(key, str) else f"{spec['key']} = ?"
            found = self.world.query(f"SELECT * FROM {spec['table']} WHERE {condition}", (key,))
            if not found:
                return False, f"no {spec['table']} row with {spec['key']}={key!r}"
            actual = found[0][spec["column"]]
            ok = compare(spec["op"], actual, expected)
            return ok, f"{spec['table']}[{key!r}].{spec['column']}={actual!r} {spec['op']} {expected!r}: {ok}"

        return self._over_calls(spec, test)

    def _check_order(self, spec: dict) -> tuple[bool, str]:
        first, then = self._calls_of(spec["first"]), self._calls_of(spec["then"])
        if not first or not then:
            return False, f"needs both {spec['first']} and {spec['then']} called"
        ok = first[0].index < then[0].index
        return ok, f"{spec['first']} before {spec['then']}: {ok}"

    def _check_answer(self, spec: dict) -> tuple[bool, str]:
        expected = self.resolve(spec["value"])
        ok = bool(self.answer) and compare(spec["op"], self.answer, expected)
        return ok, f"final answer {spec['op']} {expected!r}: {ok}"

    def _rows_matching(self, spec: dict, rows: list[dict]) -> list[dict]:
        conditions = {col: (c["op"], self.resolve(c["value"])) for col, c in spec.get("where", {}).items()}
        return [r for r in rows if all(compare(op, r.get(col), v) for col, (op, v) in conditions.items())]

    def _changes(self, table: str) -> dict:
        if table not in self._changed:
            self._changed[table] = self.world.diff([table]).get(table, {})
        return self._changed[table]

    def _check_row(self, spec: dict) -> tuple[bool, str]:
        change = spec.get("change", "inserted")
        if change == "present":
            rows = self.world.query(f"SELECT * FROM {spec['table']}")
        else:
            table = self._changes(spec["table"])
            rows = [u["after"] for u in table.get("updated", [])] if change == "updated" else table.get(change, [])
        matching = self._rows_matching(spec, rows)
        return bool(matching), f"{len(matching)} {change} {spec['table']} row(s) match {spec.get('where', {})}"

    def _check_count(self, spec: dict) -> tuple[bool, str]:
        rows = self.world.query(f"SELECT * FROM {spec['table']}")
        scope = spec.get("scope", "end")
        if scope == "original":
            inserted = self._changes(spec["table"]).get("inserted", [])
            rows = [r for r in rows if r not in inserted]
        elif scope != "end":
            raise ValueError(f"unknown count scope {scope!r} in {spec}")
        matching = self._rows_matching(spec, rows)
        expected = self.resolve(spec["value"])
        ok = compare(spec["op"], len(matching), expected)
        return ok, f"{len(matching)} {scope} {spec['table']} row(s) {spec['op']} {expected}: {ok}"

    def _check_all(self, spec: dict) -> tuple[bool, str]:
        results = [self.evaluate(s) for s in spec["checks"]]
        return all(ok for ok, _ in results), " & ".join(r for _, r in results)

    def _check_any(self, spec: dict) -> tuple[bool, str]:
        results = [self.evaluate(s) for s in spec["checks"]]
        return any(ok for ok, _ in results), " | ".join(r for _, r in results)

    def _check_not(self, spec: dict) -> tuple[bool, str]:
        ok, reason = self.evaluate(spec["check"])
        return not ok, f"not ({reason})"


_DAYPARTS = {"morning": (5, 12), "afternoon": (12, 17), "evening": (17, 24)}


def _norm(value: Any) -> Any:
    return value.casefold().strip() if isinstance(value, str) else value


def compare(op: str, actual: Any, expected: Any) -> bool:
    """Apply one comparison operator; strings compare case-insensitively, numbers with a tolerance."""
    a, e = _norm(actual), _norm(expected) if not isinstance(expected, list) else [_norm(x) for x in expected]
    try:
        if op == "equals":
            if isinstance(a, (int, float)) and isinstance(e, (int, float)) and not isinstance(a, bool):
                return abs(a - e) < 1e-6
            return a == e
        if op == "not_equals":
            return not compare("equals", actual, expected)
        if op == "in":
            return any(compare("equals", actual, x) for x in expected)
        if op == "within":
            return e[0] <= a <= e[1]
        if op in ("lt", "lte", "gt", "gte"):
            return {"lt": a < e, "lte": a <= e, "gt": a > e, "gte": a >= e}[op]
        if op == "contains":
            if isinstance(a, list):
                return any(str(e) in str(_norm(x)) for x in a)
            return str(e) in str(a)
        if op == "contains_any":
            return any(compare("contains", actual, x) for x in expected)
        if op == "startswith":
            return str(a).startswith(str(e))
        if op == "time_in":
            hour = datetime.strptime(str(actual)[:16], "%Y-%m-%d %H:%M").hour
            low, high = _DAYPARTS[e]
            return low <= hour < high
    except (TypeError, ValueError, KeyError, IndexError):
        return False
    raise ValueError(f"unknown comparison operator {op!r}")


def check_keypoints(case: Case, messages: list[dict], world: World) -> list[KeyPointResult]:
    """Decide every checkable key point of the case; free-text ones get passed=None."""
    checker = _Checker(case, messages, world)
    results = []
    for keypoint in case.instruction.keypoints:
        if keypoint.check is None:
            results.append(KeyPointResult(keypoint.id, None, "free-text key point: needs an LLM judge"))
            continue
        passed, reason = checker.evaluate(keypoint.check)
        results.append(KeyPointResult(keypoint.id, passed, reason))
    return results
