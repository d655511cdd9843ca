"""Smart home instructions."""

from __future__ import annotations

from typing import Any

from tooltune.sandbox.session import OMIT, Session
from tooltune.sandbox.tasks.base import (
    all_of, answer, arg, called, day, forecast, looked_first, names_event, personal, pref, proactive, spoken, sql,
    task, temperature,
)

TEMP_OK = arg("set_temperature_and_humidity_in_home", "temperature", "equals", pref("smart_home.temperature"))
HUMIDITY_OK = arg("set_temperature_and_humidity_in_home", "humidity", "equals", pref("smart_home.humidity"))
COLOR_OK = arg("control_light_in_home", "color", "equals", pref("smart_home.light_color"))
BRIGHTNESS_OK = arg("control_light_in_home", "brightness", "equals", pref("smart_home.light_brightness"))
DIMMED = arg("control_light_in_home", "brightness", "lt", pref("smart_home.light_brightness"))


HOME_CLIMATE = "SELECT {} FROM thermostat WHERE id = 1"
MODE_FOR_NOW = sql(HOME_CLIMATE.format("CASE WHEN current_temperature > :target THEN 'cool' ELSE 'heat' END"),
                   target=pref("smart_home.temperature"))
"""The thermostat mode the indoor reading calls for: cool when it is warmer inside than the user likes."""


def set_climate(s: Session, mode: Any = OMIT) -> dict:
    return s.call("set_temperature_and_humidity_in_home", temperature=s.pref("smart_home.temperature", 22.0),
                  humidity=s.pref("smart_home.humidity", OMIT), mode=mode)


def mode_for(now: dict | None, target: float) -> Any:
    """'cool' or 'heat' from an indoor reading; left to the thermostat ('auto') without one."""
    if now is None:
        return OMIT
    return "cool" if now["current_temperature"] > target else "heat"


def lights_on(s: Session, room: str, brightness: int | None = None) -> list[dict]:
    return s.call("control_light_in_home", action="on", location=room,
                  brightness=brightness if brightness is not None else s.pref("smart_home.light_brightness", OMIT),
                  color=s.pref("smart_home.light_color", OMIT))


@task("home-arrive-01", "I'm coming home in 20 minutes. Set the thermostat and turn on the living room lights.",
      at=day(0, "18:00"), location="Office", apps=["smart_home"],
      tools=["get_home_temperature_and_humidity", "set_temperature_and_humidity_in_home", "control_light_in_home"],
      keypoints=[
          personal("Set the user's preferred temperature.", TEMP_OK),
          personal("Set the user's preferred humidity.", HUMIDITY_OK),
          personal("Use the user's preferred brightness.", BRIGHTNESS_OK),
          personal("Use the user's preferred light colour.", COLOR_OK),
          proactive("Check the current indoor climate first and pick the mode it calls for (cool or heat).",
                    looked_first("get_home_temperature_and_humidity", "set_temperature_and_humidity_in_home",
                                 arg("set_temperature_and_humidity_in_home", "mode", "equals", MODE_FOR_NOW))),
          proactive("Offer to boil water or start music for the arrival."),
      ])
def arrive_home(s: Session) -> None:
    now = s.look("get_home_temperature_and_humidity", None)
    target = set_climate(s, mode_for(now, s.pref("smart_home.temperature", 22.0)))
    lights_on(s, "living room")
    unit = s.pref("weather.unit", "celsius")
    inside = f"It's {temperature(now['current_temperature'], unit)} inside, so I'm {target['mode']}ing: " if now else ""
    s.say(s.offer(inside) + f"the thermostat now aims for {temperature(target['target_temperature'], unit)} and "
          f"{target['target_humidity']}% humidity, and the living room lights are on."
          + s.offer(" Want the kettle on too?"))


@task("home-kettle-02", "Boil some water for my usual hot drink.", at=day(0, "15:30"), location="Home",
      apps=["smart_home"], tools=["boil_water_in_home"], keypoints=[
          personal("Heat the water to the right temperature for the user's drink.",
                   arg("boil_water_in_home", "temperature", "equals", pref("smart_home.kettle_temperature"))),
          personal("Name the user's usual drink."),
          proactive("Keep the water warm until the user is ready.", arg("boil_water_in_home", "keep_temperature", "equals", True)),
      ])
def kettle(s: Session) -> None:
    temperature = s.pref("smart_home.kettle_temperature", 100)
    s.call("boil_water_in_home", temperature=temperature, keep_temperature=True if s.proactive else OMIT)
    s.say(f"The kettle is heating to {temperature}°C for your {s.pref('smart_home.hot_drink', 'drink')}"
          + s.offer(" and will keep it warm") + ".")


@task("home-bath-03", "Run me a bath.", at=day(0, "21:00"), location="Home", apps=["smart_home"],
      tools=["control_bathtub_in_home"], keypoints=[
          personal("Use the user's preferred water temperature.",
                   arg("control_bathtub_in_home", "temperature", "equals", pref("smart_home.bath_temperature"))),
          personal("Fill to the user's preferred level.",
                   arg("control_bathtub_in_home", "water_level", "equals", pref("smart_home.bath_water_level"))),
          proactive("Keep the water warm.", arg("control_bathtub_in_home", "keep_temperature", "equals", True)),
          proactive("Offer relaxing music or dimmed lights."),
      ])
def bath(s: Session) -> None:
    temperature = s.pref("smart_home.bath_temperature", 40.0)
    level = s.pref("smart_home.bath_water_level", 80)
    s.call("control_bathtub_in_home", fill=True, water_level=level, temperature=temperature,
           keep_temperature=True if s.proactive else OMIT)
    s.say(f"Your bath is filling to {level}% at {temperature}°C" + s.offer(" and will stay warm") + "."
          + s.offer(" Shall I dim the lights and play something relaxing?"))


@task("home-morning-04", "Good morning! Get the house ready for the day.", at=day(0, "07:00"), location="Home",
      apps=["smart_home", "weather", "calendar"],
      tools=["control_curtains_in_home", "control_light_in_home", "boil_water_in_home", "get_today_weather",
             "view_today_events_in_calendar"], keypoints=[
          personal("Open or keep closed the curtains as the user likes in the morning.",
                   arg("control_curtains_in_home", "open", "equals", {"pref_is": ["smart_home.curtains_morning", "open"]})),
          personal("Heat water for the user's morning drink at the right temperature.",
                   arg("boil_water_in_home", "temperature", "equals", pref("smart_home.kettle_temperature"))),
          personal("Turn on the kitchen lights at the user's brightness.", BRIGHTNESS_OK),
          proactive("Check and give today's weather.", answer("contains", forecast("condition", day(0)))),
          proactive("Check the calendar and name today's first event.", names_event(day(0), day(1))),
      ])
def morning(s: Session) -> None:
    s.call("control_curtains_in_home", open=s.pref("smart_home.curtains_morning", "open") == "open")
    lights_on(s, "kitchen")
    s.call("boil_water_in_home", temperature=s.pref("smart_home.kettle_temperature", 100), keep_temperature=True)
    weather = s.look("get_today_weather", None, location=s.user.city)
    events = s.look("view_today_events_in_calendar", [])
    first = f" First up: {events[0]['title']} at {events[0]['start_time'][11:16]}." if events else ""
    s.say(f"Good morning! Kitchen lights are on and water is heating for your "
          f"{s.pref('smart_home.hot_drink', 'drink')}."
          + (s.offer(f" Today: {weather['condition']}, {weather['precipitation_chance']}% chance of rain.")
             if weather else "") + s.offer(first))


@task("home-movie-05", "Set the living room up for a movie night.", at=day(0, "20:00"), location="Home",
      apps=["smart_home"],
      tools=["control_light_in_home", "control_curtains_in_home", "set_temperature_and_humidity_in_home"], keypoints=[
          personal("Use the user's preferred light colour.", COLOR_OK),
          personal("Dim below the user's usual brightness.", DIMMED),
          personal("Set the user's preferred temperature.", TEMP_OK),
          proactive("Close the curtains.", arg("control_curtains_in_home", "open", "equals", False)),
          proactive("Offer snacks or drinks."),
      ])
def movie_night(s: Session) -> None:
    brightness = max(5, s.pref("smart_home.light_brightness", 60) // 3)
    lights_on(s, "living room", brightness)
    s.extra("control_curtains_in_home", open=False)
    set_climate(s)
    s.say(f"Movie mode: living room lights at {brightness}%" + s.offer(", curtains closed") + ", thermostat set."
          + s.offer(" Shall I order some snacks?"))


@task("home-leave-06", "I'm leaving for the weekend. Shut everything down at home.", at=day(0, "17:30"),
      location="Home", apps=["smart_home", "weather", "calendar"],
      tools=["get_home_devices_status", "control_light_in_home", "set_temperature_and_humidity_in_home",
             "control_curtains_in_home", "get_future_weather", "view_events_in_calendar_by_providing_time_range"],
      keypoints=[
          personal("Mention anything the user usually leaves on, and confirm the return plan."),
          proactive("Check the weekend forecast for home and warn about Saturday's storm.",
                    all_of(called("get_future_weather"), answer("contains", forecast("condition", day(1))))),
          proactive("Check the weekend's calendar and name the first plan, in case it needs something from home.",
                    names_event(day(1), day(3))),
          proactive("Turn the thermostat off while away.",
                    arg("set_temperature_and_humidity_in_home", "mode", "equals", "off")),
      ])
def leave_home(s: Session) -> None:
    status = s.call("get_home_devices_status")
    s.call("control_light_in_home", action="off", location="residence")
    s.call("set_temperature_and_humidity_in_home", mode="off")
    s.call("control_curtains_in_home", open=False)
    days = s.look("get_future_weather", [], location=s.user.city, start_time=day(1), end_time=day(2))
    plans = s.look("view_events_in_calendar_by_providing_time_range", [], start_time=day(1), end_time=day(2))
    was_on = [light["room"] for light in status["lights"] if light["is_on"]]
    storm = [d for d in days if d["precipitation_chance"] >= 50]
    s.say(f"All lights are off{' (the ' + ', '.join(was_on) + ' were on)' if was_on else ''}, the thermostat is "
          "off and the curtains are closed."
          + (s.offer(f" {storm[0]['condition'].capitalize()} is forecast at home on Saturday, so make sure the "
                     "windows are shut.") if storm else "")
          + (s.offer(f" Your weekend plans start with \"{plans[0]['title']}\" - anything you need from home for "
                     "it?") if plans else "")
          + s.offer(" Have a good weekend - tell me when you're heading back and I'll warm the house up."))


@task("home-hot-07", "It's too hot in here, fix it.", at=day(0, "15:00"), location="Home", apps=["smart_home"],
      tools=["get_home_temperature_and_humidity", "set_temperature_and_humidity_in_home", "control_curtains_in_home"],
      keypoints=[
          personal("Cool to the user's preferred temperature.", TEMP_OK),
          personal("Set the user's preferred humidity.", HUMIDITY_OK),
          proactive("Read the indoor climate first and tell the user the current humidity.",
                    looked_first("get_home_temperature_and_humidity", "set_temperature_and_humidity_in_home",
                                 answer("contains_any", spoken(HOME_CLIMATE.format("current_humidity"), "%", " %",
                                                               " percent")))),
          proactive("Close the curtains against the afternoon sun.", arg("control_curtains_in_home", "open", "equals", False)),
      ])
def too_hot(s: Session) -> None:
    now = s.look("get_home_temperature_and_humidity", None)
    target = set_climate(s, mode="cool")
    s.extra("control_curtains_in_home", open=False)
    unit = s.pref("weather.unit", "celsius")
    inside = f"It's {temperature(now['current_temperature'], unit)} and {now['current_humidity']}% humidity " \
        "inside. " if now else ""
    s.say(s.offer(inside) + f"Cooling to {temperature(target['target_temperature'], unit)} at "
          f"{target['target_humidity']}% humidity." + s.offer(" I closed the curtains to keep the sun out.")
          + s.offer(" A glass of water wouldn't hurt."))
