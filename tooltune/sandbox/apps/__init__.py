"""The sandbox's 9 apps, one module each holding its tools; `APPS` says where each app's other pieces live.

The pieces of an app are kept by kind: its tools here (`apps/<app>.py`), its SQLite tables in
`state.SCHEMA`, the generated rows of those tables in `catalogue.py` (catalogues shared by all users) and
`userdata.py` (each user's own), its instructions with key points and reference solvers in `tasks/`
(instructions spanning apps in `tasks/multi.py` too), and each user's preferences for it under
`preferences.<app>` in `data/users.json`. `tests/sandbox/test_apps_index.py` keeps this index true.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AppPieces:
    """Where one app's pieces are, as module paths below `tooltune.sandbox`."""

    tools: str  # the module of its @tool functions
    tables: tuple[str, ...]  # its tables in state.SCHEMA
    data: tuple[str, ...]  # the functions generating those tables' rows, as "module.function"
    tasks: str  # the module of the instructions whose main (first) app it is


APPS: dict[str, AppPieces] = {
    "calendar": AppPieces("apps.calendar", ("events", "alarms"), ("userdata._events", "userdata._alarms"),
                          "tasks.calendar"),
    "email": AppPieces("apps.email", ("emails",), ("userdata._emails",), "tasks.email"),
    "health": AppPieces("apps.health", ("health_records", "workouts"), ("userdata._health", "userdata._workouts"),
                        "tasks.health"),
    "music": AppPieces("apps.music", ("tracks", "favorites", "playback"), ("catalogue.tracks", "userdata._music"),
                       "tasks.music"),
    "navigation": AppPieces(
        "apps.navigation",
        ("restaurants", "accommodations", "attractions", "flights", "restaurant_reservations",
         "accommodation_bookings", "flight_bookings"),
        ("catalogue.restaurants", "catalogue.accommodations", "catalogue.attractions", "catalogue.flights"),
        "tasks.navigation"),
    "shopping": AppPieces("apps.shopping", ("products", "cart", "orders"), ("catalogue.products", "userdata._shopping"),
                          "tasks.shopping"),
    "smart_home": AppPieces("apps.smart_home", ("lights", "thermostat", "appliances"), ("userdata._home",),
                            "tasks.smart_home"),
    "weather": AppPieces("apps.weather", ("weather",), ("catalogue.weather",), "tasks.weather_web"),
    "web": AppPieces("apps.web", ("news", "wiki"), ("catalogue.news", "catalogue.wiki"), "tasks.weather_web"),
}
SHARED_TABLES = ("user_info",)  # the user's own facts, read by several apps
