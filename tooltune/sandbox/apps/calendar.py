"""Calendar app: events and alarms."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from tooltune.sandbox.tools import (
    DateOrTime,
    DateTime,
    Range,
    ToolContext,
    ToolError,
    format_time,
    parse_time,
    require_row,
    rows,
    tool,
)


def _day_bounds(ctx: ToolContext) -> tuple[str, str]:
    start = ctx.now.replace(hour=0, minute=0, second=0, microsecond=0)
    return format_time(start), format_time(start + timedelta(days=1))


@tool("calendar")
def add_event_in_calendar(
    ctx: ToolContext,
    title: str,
    start_time: DateTime,
    end_time: DateTime,
    description: str = "",
    location: str = "",
    reminder_minutes: Annotated[int, Range(0, 1440)] | None = None,
) -> dict:
    """Adds a new event to the calendar.

    Args:
        title: The title of the event.
        start_time: Start of the event, format YYYY-MM-DD HH:MM:SS, e.g. 2024-09-06 15:30:00.
        end_time: End of the event, format YYYY-MM-DD HH:MM:SS; must be after start_time.
        description: A brief description of the event.
        location: Where the event takes place.
        reminder_minutes: Minutes before the start to send a reminder (0-1440); omit for none.
    """
    start, end = parse_time(start_time, "start_time"), parse_time(end_time, "end_time")
    if not title.strip():
        raise ToolError("invalid_arguments", "argument 'title': must not be empty")
    if end <= start:
        raise ToolError("invalid_arguments", "argument 'end_time': must be after start_time")
    cursor = ctx.db.execute(
        "INSERT INTO events (title, description, start_time, end_time, location, reminder_minutes) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (title.strip(), description, format_time(start), format_time(end), location, reminder_minutes),
    )
    return {"event_id": cursor.lastrowid, "title": title.strip(), "start_time": format_time(start),
            "end_time": format_time(end), "reminder_minutes": reminder_minutes}


@tool("calendar")
def view_today_events_in_calendar(ctx: ToolContext) -> list[dict]:
    """Gets all of today's events in the calendar, in time order."""
    day_start, day_end = _day_bounds(ctx)
    return rows(ctx.db.execute(
        "SELECT * FROM events WHERE start_time < ? AND end_time > ? ORDER BY start_time", (day_end, day_start)))


@tool("calendar")
def view_events_in_calendar_by_providing_time_range(
    ctx: ToolContext, start_time: DateOrTime, end_time: DateOrTime
) -> list[dict]:
    """Retrieves the events that overlap a time range, in time order.

    Args:
        start_time: Start of the range, YYYY-MM-DD or YYYY-MM-DD HH:MM:SS.
        end_time: End of the range, YYYY-MM-DD (the whole day is included) or YYYY-MM-DD HH:MM:SS.
    """
    start = parse_time(start_time, "start_time")
    end = parse_time(end_time, "end_time")
    if len(end_time) == 10:
        end += timedelta(days=1)
    if end <= start:
        raise ToolError("invalid_arguments", "argument 'end_time': must be after start_time")
    return rows(ctx.db.execute(
        "SELECT * FROM events WHERE start_time < ? AND end_time > ? ORDER BY start_time",
        (format_time(end), format_time(start))))


@tool("calendar")
def delete_event_in_calendar(ctx: ToolContext, event_id: int) -> dict:
    """Deletes an event from the calendar by its ID.

    Args:
        event_id: ID of the event to delete, as listed by the view tools.
    """
    event = require_row(ctx, "events", "id", event_id, "event")
    ctx.db.execute("DELETE FROM events WHERE id = ?", (event_id,))
    return {"deleted": event}


@tool("calendar")
def add_alarm(ctx: ToolContext, alarm_time: DateTime, message: str = "") -> dict:
    """Adds a new alarm that goes off at a given time.

    Args:
        alarm_time: When the alarm goes off, format YYYY-MM-DD HH:MM:SS; must be in the future.
        message: The message shown when the alarm goes off.
    """
    when = parse_time(alarm_time, "alarm_time")
    if when <= ctx.now:
        raise ToolError("invalid_arguments",
                        f"argument 'alarm_time': {format_time(when)} is not after now ({format_time(ctx.now)})")
    cursor = ctx.db.execute("INSERT INTO alarms (alarm_time, message) VALUES (?, ?)", (format_time(when), message))
    return {"alarm_id": cursor.lastrowid, "alarm_time": format_time(when), "message": message}


@tool("calendar")
def view_today_alarms(ctx: ToolContext) -> list[dict]:
    """Views today's alarms, in time order."""
    day_start, day_end = _day_bounds(ctx)
    return rows(ctx.db.execute(
        "SELECT * FROM alarms WHERE alarm_time >= ? AND alarm_time < ? ORDER BY alarm_time", (day_start, day_end)))


@tool("calendar")
def delete_alarm(ctx: ToolContext, alarm_id: int) -> dict:
    """Deletes an alarm by its ID.

    Args:
        alarm_id: ID of the alarm to delete, as listed by view_today_alarms.
    """
    alarm = require_row(ctx, "alarms", "id", alarm_id, "alarm")
    ctx.db.execute("DELETE FROM alarms WHERE id = ?", (alarm_id,))
    return {"deleted": alarm}
