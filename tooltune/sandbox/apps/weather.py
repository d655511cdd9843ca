"""Weather app: today's weather and the forecast of coming days."""

from __future__ import annotations

from datetime import timedelta

from tooltune.sandbox.apps.navigation import known_city
from tooltune.sandbox.tools import first_row, DateOrTime, ToolContext, ToolError, parse_time, rows, tool


@tool("weather")
def get_today_weather(ctx: ToolContext, location: str) -> dict:
    """Retrieves today's weather for a city: condition, temperatures, chance of rain, wind, UV.

    Args:
        location: The city, e.g. Seattle.
    """
    city = known_city(ctx, "weather", location)
    return first_row(ctx, "SELECT * FROM weather WHERE city = ? AND date = ?",
                     (city, ctx.now.strftime("%Y-%m-%d")), f"no weather data for {city} today")


@tool("weather")
def get_future_weather(ctx: ToolContext, location: str, start_time: DateOrTime, end_time: DateOrTime) -> list[dict]:
    """Retrieves the daily forecast for a city between two dates (at most 7 days ahead).

    Args:
        location: The city.
        start_time: First day, YYYY-MM-DD (a time of day is ignored).
        end_time: Last day, YYYY-MM-DD, on or after start_time.
    """
    city = known_city(ctx, "weather", location)
    first = parse_time(start_time, "start_time").date()
    last = parse_time(end_time, "end_time").date()
    if last < first:
        raise ToolError("invalid_arguments", "argument 'end_time': must not be before start_time")
    if last > ctx.now.date() + timedelta(days=7):
        raise ToolError("invalid_arguments", "argument 'end_time': forecasts reach at most 7 days ahead")
    return rows(ctx.db.execute("SELECT * FROM weather WHERE city = ? AND date >= ? AND date <= ? ORDER BY date",
                               (city, first.isoformat(), last.isoformat())))
