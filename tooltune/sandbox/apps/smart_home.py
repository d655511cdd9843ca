"""Smart home app: lights, thermostat, curtains, kettle and bathtub."""

from __future__ import annotations

from typing import Annotated, Literal

from tooltune.sandbox.tools import first_row, Range, ToolContext, ToolError, format_time, rows, tool

Room = Literal["residence", "living room", "bedroom", "kitchen", "dining room", "bathroom", "study"]
LightColor = Literal["warm white", "neutral white", "cool white", "amber", "soft blue", "soft pink", "green"]


def _set_appliance(ctx: ToolContext, name: str, **values: object) -> dict:
    if not ctx.db.execute("SELECT 1 FROM appliances WHERE name = ?", (name,)).fetchone():
        raise ToolError("not_found", f"this home has no {name}")
    values["updated_at"] = format_time(ctx.now)
    assignments = ", ".join(f"{column} = ?" for column in values)
    ctx.db.execute(f"UPDATE appliances SET {assignments} WHERE name = ?", (*values.values(), name))
    return rows(ctx.db.execute("SELECT * FROM appliances WHERE name = ?", (name,)))[0]


@tool("smart_home")
def control_light_in_home(
    ctx: ToolContext,
    action: Literal["on", "off"],
    location: Room,
    brightness: Annotated[int, Range(1, 100)] | None = None,
    color: LightColor | None = None,
) -> list[dict]:
    """Turns the lights of a room (or of the whole residence) on or off, with brightness and colour.

    Args:
        action: 'on' or 'off'.
        location: The room, or 'residence' for every room.
        brightness: Brightness in percent (1-100) when turning on; keeps the current level if omitted.
        color: Light colour when turning on; keeps the current colour if omitted.
    """
    if action == "off" and (brightness is not None or color is not None):
        raise ToolError("invalid_arguments", "brightness and color only apply when action is 'on'")
    if location == "residence":
        targets = [r[0] for r in ctx.db.execute("SELECT room FROM lights")]
    elif ctx.db.execute("SELECT 1 FROM lights WHERE room = ?", (location,)).fetchone():
        targets = [location]
    else:
        raise ToolError("not_found", f"this home has no lights in the {location}")
    for room in targets:
        ctx.db.execute(
            "UPDATE lights SET is_on = ?, brightness = COALESCE(?, brightness), color = COALESCE(?, color) "
            "WHERE room = ?", (int(action == "on"), brightness, color, room))
    placeholders = ", ".join("?" * len(targets))
    return rows(ctx.db.execute(f"SELECT * FROM lights WHERE room IN ({placeholders}) ORDER BY room", targets))


@tool("smart_home")
def set_temperature_and_humidity_in_home(
    ctx: ToolContext,
    temperature: Annotated[float, Range(10, 32)] | None = None,
    humidity: Annotated[int, Range(20, 70)] | None = None,
    mode: Literal["auto", "heat", "cool", "off"] | None = None,
) -> dict:
    """Sets the thermostat's target temperature and/or humidity (this also runs the air conditioning).

    Args:
        temperature: Target temperature in degrees Celsius (10-32).
        humidity: Target relative humidity in percent (20-70).
        mode: Thermostat mode; 'auto' when a target is set and no mode is given.
    """
    if temperature is None and humidity is None and mode is None:
        raise ToolError("invalid_arguments", "give at least one of temperature, humidity, mode")
    if mode is None and (temperature is not None or humidity is not None):
        mode = "auto"
    ctx.db.execute(
        "UPDATE thermostat SET target_temperature = COALESCE(?, target_temperature), "
        "target_humidity = COALESCE(?, target_humidity), mode = COALESCE(?, mode) WHERE id = 1",
        (temperature, humidity, mode))
    return rows(ctx.db.execute("SELECT * FROM thermostat WHERE id = 1"))[0]


@tool("smart_home")
def get_home_temperature_and_humidity(ctx: ToolContext) -> dict:
    """Gets the current indoor temperature and humidity and the thermostat's targets."""
    return first_row(ctx, "SELECT * FROM thermostat WHERE id = 1", (), "this home has no thermostat")


@tool("smart_home")
def control_curtains_in_home(ctx: ToolContext, open: bool) -> dict:
    """Opens or closes the curtains in the home.

    Args:
        open: true to open the curtains, false to close them.
    """
    return _set_appliance(ctx, "curtains", state="open" if open else "closed")


@tool("smart_home")
def boil_water_in_home(
    ctx: ToolContext, temperature: Annotated[int, Range(40, 100)] = 100, keep_temperature: bool = False
) -> dict:
    """Heats water in the kettle to a temperature, optionally keeping it warm.

    Args:
        temperature: Target water temperature in degrees Celsius (40-100).
        keep_temperature: If true, the kettle keeps the water at the temperature.
    """
    return _set_appliance(ctx, "kettle", state="heating", temperature=temperature,
                          keep_temperature=int(keep_temperature))


@tool("smart_home")
def control_bathtub_in_home(
    ctx: ToolContext,
    fill: bool,
    water_level: Annotated[int, Range(10, 100)] | None = None,
    temperature: Annotated[float, Range(30, 45)] | None = None,
    keep_temperature: bool = False,
) -> dict:
    """Fills the bathtub to a water level and temperature, or drains it.

    Args:
        fill: true to fill the bathtub, false to drain it.
        water_level: Fill level in percent of the tub (10-100); required when filling.
        temperature: Water temperature in degrees Celsius (30-45); required when filling.
        keep_temperature: If true, keeps the water at the temperature once filled.
    """
    if not fill:
        return _set_appliance(ctx, "bathtub", state="draining", water_level=0, keep_temperature=0)
    if water_level is None or temperature is None:
        raise ToolError("invalid_arguments", "filling needs both water_level and temperature")
    return _set_appliance(ctx, "bathtub", state="filling", water_level=water_level, temperature=temperature,
                          keep_temperature=int(keep_temperature))


@tool("smart_home")
def get_home_devices_status(ctx: ToolContext) -> dict:
    """Lists the state of every light and appliance in the home."""
    return {
        "lights": rows(ctx.db.execute("SELECT * FROM lights ORDER BY room")),
        "appliances": rows(ctx.db.execute("SELECT * FROM appliances ORDER BY name")),
    }
