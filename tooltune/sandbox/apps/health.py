"""Health app: vital signs and mood records, workouts."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Annotated

from tooltune.sandbox.tools import first_row, DateOrTime, DateTime, Range, ToolContext, ToolError, format_time, parse_time, rows, tool


def _since(ctx: ToolContext, time: str) -> str:
    start = parse_time(time, "time")
    if start > ctx.now:
        raise ToolError("invalid_arguments", f"argument 'time': {time} is in the future")
    return format_time(start)


@tool("health")
def get_current_health_and_mood_status(ctx: ToolContext) -> dict:
    """Retrieves the user's latest vital signs, sleep, mood, stress and energy levels."""
    return first_row(ctx, "SELECT * FROM health_records WHERE timestamp <= ? ORDER BY timestamp DESC LIMIT 1",
                     (format_time(ctx.now),), "no health records yet")


@tool("health")
def get_recent_health_and_mood_summary(ctx: ToolContext, time: DateOrTime) -> dict:
    """Summarises the health and mood records from a past time until now (averages and dominant moods).

    Args:
        time: Start of the period, YYYY-MM-DD or YYYY-MM-DD HH:MM:SS, e.g. three days ago.
    """
    records = rows(ctx.db.execute(
        "SELECT * FROM health_records WHERE timestamp >= ? AND timestamp <= ? ORDER BY timestamp",
        (_since(ctx, time), format_time(ctx.now))))
    if not records:
        return {"records": 0}

    def mean(key: str) -> float:
        return round(sum(r[key] for r in records) / len(records), 1)

    days = {r["timestamp"][:10] for r in records}
    return {
        "records": len(records),
        "days": len(days),
        "average_daily_steps": round(sum(r["steps"] for r in records) / len(days)),
        "average_heart_rate": mean("heart_rate"),
        "average_sleep_hours": mean("sleep_hours"),
        "average_stress_level": mean("stress_level"),
        "average_energy_level": mean("energy_level"),
        "dominant_moods": [m for m, _ in Counter(r["mood"] for r in records if r["mood"] != "asleep").most_common(3)],
    }


@tool("health")
def get_user_recent_workout_records(ctx: ToolContext, time: DateOrTime) -> list[dict]:
    """Retrieves the workouts done from a past time until now, newest first.

    Args:
        time: Start of the period, YYYY-MM-DD or YYYY-MM-DD HH:MM:SS.
    """
    return rows(ctx.db.execute(
        "SELECT * FROM workouts WHERE start_time >= ? AND start_time <= ? ORDER BY start_time DESC",
        (_since(ctx, time), format_time(ctx.now))))


@tool("health")
def add_workout_record(
    ctx: ToolContext,
    activity: str,
    start_time: DateTime,
    duration_minutes: Annotated[int, Range(1, 600)],
    calories: Annotated[int, Range(0, 5000)] | None = None,
    notes: str = "",
) -> dict:
    """Logs a workout the user has done.

    Args:
        activity: Kind of workout, e.g. yoga, running, cycling, swimming, strength training.
        start_time: When it started, YYYY-MM-DD HH:MM:SS; must not be in the future.
        duration_minutes: Length in minutes (1-600).
        calories: Calories burned, if known (0-5000).
        notes: Free notes.
    """
    start = parse_time(start_time, "start_time")
    end = start + timedelta(minutes=duration_minutes)
    if end > ctx.now:
        raise ToolError("invalid_arguments", "argument 'start_time': the workout would end in the future")
    if not activity.strip():
        raise ToolError("invalid_arguments", "argument 'activity': must not be empty")
    cursor = ctx.db.execute(
        "INSERT INTO workouts (activity, start_time, end_time, duration_minutes, calories, notes) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (activity.strip().lower(), format_time(start), format_time(end), duration_minutes,
         calories if calories is not None else duration_minutes * 7, notes))
    return {"workout_id": cursor.lastrowid, "activity": activity.strip().lower(), "end_time": format_time(end)}
