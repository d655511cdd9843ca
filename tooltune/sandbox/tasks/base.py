"""How a built-in task is written: an Instruction (with key points) plus its reference solver."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tooltune.sandbox.cases import Instruction, KeyPoint
from tooltune.sandbox.catalogue import BASE_DATE
from tooltune.sandbox.session import OMIT, Session

Solver = Callable[[Session], None]


@dataclass
class Task:
    instruction: Instruction
    solve: Solver


REGISTRY: dict[str, Task] = {}


def personal(text: str, check: dict[str, Any] | None = None) -> KeyPoint:
    return KeyPoint("", "personal", text, check)


def proactive(text: str, check: dict[str, Any] | None = None) -> KeyPoint:
    return KeyPoint("", "proactive", text, check)


def day(offset: int, hhmm: str = "") -> str:
    """'YYYY-MM-DD' (or 'YYYY-MM-DD HH:MM:00') `offset` days from the base date."""
    from datetime import timedelta

    text = (BASE_DATE + timedelta(days=offset)).isoformat()
    return f"{text} {hhmm}:00" if hhmm else text


def task(
    id: str, query: str, *, at: str, location: str, apps: list[str], tools: list[str], keypoints: list[KeyPoint]
) -> Callable[[Solver], Solver]:
    """Register an instruction and its solver; key point ids become "<id>/k<n>"."""

    def register(solve: Solver) -> Solver:
        if id in REGISTRY:
            raise ValueError(f"duplicate task id {id!r}")
        numbered = [KeyPoint(f"{id}/k{n}", kp.kind, kp.text, kp.check)
                    for n, kp in enumerate(keypoints, start=1)]
        REGISTRY[id] = Task(Instruction(id, query, at, location, apps, tools, numbered), solve)
        return solve

    return register


# --- check spec builders (the specs are plain dicts; checks.py interprets them) -----------------

def pref(path: str) -> dict:
    return {"pref": path}


def called(tool: str) -> dict:
    return {"type": "called", "tool": tool}


def arg(tool: str, name: str, op: str, value: Any, quantifier: str = "all") -> dict:
    return {"type": "arg", "tool": tool, "arg": name, "op": op, "value": value, "quantifier": quantifier}


def arg_row(tool: str, name: str, table: str, column: str, op: str, value: Any, key: str = "id",
            quantifier: str = "all") -> dict:
    return {"type": "arg_row", "tool": tool, "arg": name, "table": table, "key": key, "column": column,
            "op": op, "value": value, "quantifier": quantifier}


def before(first: str, then: str) -> dict:
    return {"type": "order", "first": first, "then": then}


def answer(op: str, value: Any) -> dict:
    return {"type": "answer", "op": op, "value": value}


def row(table: str, change: str, **where: tuple[str, Any]) -> dict:
    return {"type": "row", "table": table, "change": change,
            "where": {column: {"op": op, "value": value} for column, (op, value) in where.items()}}


def count(table: str, op: str, value: Any, scope: str = "end", **where: tuple[str, Any]) -> dict:
    return {"type": "count", "table": table, "op": op, "value": value, "scope": scope,
            "where": {column: {"op": o, "value": v} for column, (o, v) in where.items()}}


def all_of(*checks: dict) -> dict:
    return {"type": "all", "checks": list(checks)}


def any_of(*checks: dict) -> dict:
    return {"type": "any", "checks": list(checks)}


def sql(query: str, many: bool = False, **params: Any) -> dict:
    """A value read from the end state: first column of the first row (of every row with many=True)."""
    spec: dict[str, Any] = {"sql": query}
    if params:
        spec["params"] = params
    if many:
        spec["many"] = True
    return spec


def spoken(value_sql: str, *units: str, **params: Any) -> dict:
    """A number read from the end state as it may be written with a unit, e.g. ['79 bpm', '79 beats']."""
    return sql(" UNION ALL ".join(f"SELECT ({value_sql}) || '{unit}'" for unit in units), many=True, **params)


HOME = {"persona": "location"}
CURRENT_HEALTH = "SELECT {} FROM health_records WHERE timestamp <= :now ORDER BY timestamp DESC LIMIT 1"
"""A column of the latest health record, what get_current_health_and_mood_status shows."""


def forecast(column: str, date: str, city: Any = HOME) -> dict:
    """One column of a city's weather on a date, e.g. forecast("condition", day(1))."""
    return sql(f"SELECT {column} FROM weather WHERE city = :city AND date = :date", city=city, date=date)


def calendar_clear(start: Any, end: Any) -> dict:
    """No event the user already had overlaps [start, end) (the agent's own new events do not count)."""
    return count("events", "equals", 0, scope="original", start_time=("lt", end), end_time=("gt", start))


def names_event(start: Any, end: Any) -> dict:
    """Either no prior event overlaps [start, end), or the final answer names the first one.

    Prior events have the smallest ids, so ordering by id skips events the agent added itself.
    """
    first = sql("SELECT title FROM events WHERE start_time < :end AND end_time > :start ORDER BY id LIMIT 1",
                start=start, end=end)
    return any_of(calendar_clear(start, end), answer("contains", first))


NEWEST_EVENT = "SELECT {} FROM events ORDER BY id DESC LIMIT 1"


def new_event_clear(tool: str = "add_event_in_calendar") -> dict:
    """An event was added and it overlaps none of the user's existing events."""
    return all_of(called(tool), calendar_clear(sql(NEWEST_EVENT.format("start_time")),
                                               sql(NEWEST_EVENT.format("end_time"))))


RESERVATION = "SELECT {} FROM restaurant_reservations ORDER BY id DESC LIMIT 1"


def reservation_clear(minutes: int) -> dict:
    """A table was reserved and the `minutes` after it are free in the user's calendar."""
    start = sql(RESERVATION.format("reservation_time"))
    end = sql(RESERVATION.format(f"strftime('%Y-%m-%d %H:%M:%S', reservation_time, '+{minutes} minutes')"))
    return all_of(called("reserve_restaurant"), calendar_clear(start, end))


def looked_first(first: str, then: str, consequence: dict) -> dict:
    """`first` was consulted before `then` acted, and what it showed was acted on."""
    return all_of(before(first, then), consequence)


# --- helpers shared by solvers ----------------------------------------------------------------

DAYPARTS = {"morning": (5, 12), "afternoon": (12, 17), "evening": (17, 24)}
DINNER_TIMES = ("19:00", "18:30", "19:30", "18:00", "20:00", "17:30", "20:30", "17:00", "21:00")


def overlaps(events: list[dict], start: str, end: str) -> bool:
    """Whether [start, end) overlaps any calendar event (times as 'YYYY-MM-DD HH:MM:SS')."""
    return any(e["start_time"] < end and e["end_time"] > start for e in events)


def free_slot(events: list[dict], date: str, candidates: tuple[str, ...], minutes: int, after: str = "") -> str:
    """The first candidate start time on `date` (after `after`) whose `minutes` are free, or ''."""
    from datetime import datetime, timedelta

    for hhmm in candidates:
        start = f"{date} {hhmm}:00"
        end = (datetime.strptime(start, "%Y-%m-%d %H:%M:%S") + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")
        if start > after and not overlaps(events, start, end):
            return start
    return ""


def plus_minutes(moment: str, minutes: int) -> str:
    from datetime import datetime, timedelta

    value = datetime.strptime(moment, "%Y-%m-%d %H:%M:%S") + timedelta(minutes=minutes)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def in_daypart(moment: str, part: str) -> bool:
    low, high = DAYPARTS[part]
    return low <= int(moment[11:13]) < high


def open_at(hours: str, moment: str) -> bool:
    opening, closing = hours.split("-")
    return opening <= moment[11:16] <= closing


def temperature(celsius: float, unit: str) -> str:
    """A temperature in the user's unit, e.g. '72°F'."""
    return f"{round(celsius * 9 / 5 + 32)}°F" if unit == "fahrenheit" else f"{round(celsius)}°C"


UNIT_SYMBOL = {"map": {"pref": "weather.unit"}, "table": {"celsius": "°C", "fahrenheit": "°F"}}
WORKOUT_SLOTS = ("07:00", "08:00", "09:00", "10:00", "16:00", "17:00", "18:00", "19:00")


# --- check specs and actions used by several task modules ---------------------------------------

SIGNED = arg("send_email", "content", "contains", pref("email.sign_off"))
REMINDER_OK = arg("add_event_in_calendar", "reminder_minutes", "equals", pref("calendar.reminder_minutes"))
VOLUME_OK = arg("play_music", "volume_level", "within", pref("music.volume_range"))


def sent_to(relation: str) -> dict:
    return arg("send_email", "receiver", "equals", {"contact": relation})


def email_person(s: Session, person: dict, subject: str, body: str) -> dict:
    """Send `body` to a contact, greeted by first name and signed the user's way."""
    words = person["name"].split()
    first = f"{words[0]} {words[-1]}" if words[0] in ("Dr.", "Prof.", "Ms.", "Coach") else words[0]
    sign = s.pref("email.sign_off", "Best regards")
    return s.call("send_email", receiver=person["email"], subject=subject,
                  content=f"Hi {first},\n\n{body}\n\n{sign}")


def add_event(s: Session, title: str, start: str, minutes: int, location: str = "", *,
              extra: bool = False) -> dict | None:
    """Put an event in the calendar with the user's usual reminder (`extra`: beyond the literal request)."""
    run = s.extra if extra else s.call
    return run("add_event_in_calendar", title=title, start_time=start, end_time=plus_minutes(start, minutes),
               location=location, reminder_minutes=s.pref("calendar.reminder_minutes", OMIT))
