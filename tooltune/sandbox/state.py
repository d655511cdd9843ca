"""The sandbox's SQLite schema, template databases and episode copies.

One template database per user holds the shared catalogues (tracks, products, places, flights, weather,
news, wiki) and the user's own rows (calendar, email, health, favourites, cart, home devices). An episode
gets a pristine in-memory copy through SQLite's backup API; `diff_tables` compares it with the template.
Other suites (e.g. the ETAPP importer) build templates with `build_template` from their own rows.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Mapping
from typing import Any

SCHEMA: dict[str, str] = {
    # --- per-user state -------------------------------------------------------------------------
    "user_info": "CREATE TABLE user_info (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "events": """CREATE TABLE events (
        id INTEGER PRIMARY KEY, title TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
        start_time TEXT NOT NULL, end_time TEXT NOT NULL, location TEXT NOT NULL DEFAULT '',
        reminder_minutes INTEGER)""",
    "alarms": """CREATE TABLE alarms (
        id INTEGER PRIMARY KEY, alarm_time TEXT NOT NULL, message TEXT NOT NULL DEFAULT '',
        enabled INTEGER NOT NULL DEFAULT 1)""",
    "emails": """CREATE TABLE emails (
        id INTEGER PRIMARY KEY, sender TEXT NOT NULL, receiver TEXT NOT NULL, subject TEXT NOT NULL,
        content TEXT NOT NULL, timestamp TEXT NOT NULL, folder TEXT NOT NULL CHECK (folder IN ('inbox', 'sent')),
        is_read INTEGER NOT NULL DEFAULT 0, attachments TEXT NOT NULL DEFAULT '')""",
    "health_records": """CREATE TABLE health_records (
        timestamp TEXT PRIMARY KEY, steps INTEGER NOT NULL, heart_rate INTEGER NOT NULL,
        sleep_hours REAL NOT NULL, blood_pressure TEXT NOT NULL, blood_oxygen INTEGER NOT NULL,
        mood TEXT NOT NULL, stress_level INTEGER NOT NULL, energy_level INTEGER NOT NULL)""",
    "workouts": """CREATE TABLE workouts (
        id INTEGER PRIMARY KEY, activity TEXT NOT NULL, start_time TEXT NOT NULL, end_time TEXT NOT NULL,
        duration_minutes INTEGER NOT NULL, calories INTEGER NOT NULL, avg_heart_rate INTEGER,
        distance_km REAL, notes TEXT NOT NULL DEFAULT '')""",
    "favorites": "CREATE TABLE favorites (track_id INTEGER PRIMARY KEY, added_at TEXT NOT NULL)",
    "playback": """CREATE TABLE playback (
        id INTEGER PRIMARY KEY, track_id INTEGER NOT NULL, volume_level INTEGER NOT NULL, started_at TEXT NOT NULL)""",
    "cart": "CREATE TABLE cart (product_id TEXT PRIMARY KEY, quantity INTEGER NOT NULL, added_at TEXT NOT NULL)",
    "orders": """CREATE TABLE orders (
        id INTEGER PRIMARY KEY, product_id TEXT NOT NULL, quantity INTEGER NOT NULL, unit_price REAL NOT NULL,
        ordered_at TEXT NOT NULL)""",
    "flight_bookings": """CREATE TABLE flight_bookings (
        id INTEGER PRIMARY KEY, flight_id INTEGER NOT NULL, seat_class TEXT NOT NULL, passengers INTEGER NOT NULL,
        total_price REAL NOT NULL, booked_at TEXT NOT NULL)""",
    "accommodation_bookings": """CREATE TABLE accommodation_bookings (
        id INTEGER PRIMARY KEY, accommodation_id INTEGER NOT NULL, check_in TEXT NOT NULL, nights INTEGER NOT NULL,
        guests INTEGER NOT NULL, total_price REAL NOT NULL, booked_at TEXT NOT NULL)""",
    "restaurant_reservations": """CREATE TABLE restaurant_reservations (
        id INTEGER PRIMARY KEY, restaurant_id INTEGER NOT NULL, reservation_time TEXT NOT NULL,
        party_size INTEGER NOT NULL, booked_at TEXT NOT NULL)""",
    "lights": """CREATE TABLE lights (
        room TEXT PRIMARY KEY, is_on INTEGER NOT NULL, brightness INTEGER NOT NULL, color TEXT NOT NULL)""",
    "thermostat": """CREATE TABLE thermostat (
        id INTEGER PRIMARY KEY CHECK (id = 1), current_temperature REAL NOT NULL, current_humidity INTEGER NOT NULL,
        target_temperature REAL NOT NULL, target_humidity INTEGER NOT NULL, mode TEXT NOT NULL)""",
    "appliances": """CREATE TABLE appliances (
        name TEXT PRIMARY KEY, state TEXT NOT NULL, temperature REAL, water_level INTEGER,
        keep_temperature INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL DEFAULT '')""",
    # --- shared catalogues ----------------------------------------------------------------------
    "tracks": """CREATE TABLE tracks (
        id INTEGER PRIMARY KEY, title TEXT NOT NULL, artist TEXT NOT NULL, genre TEXT NOT NULL,
        mood TEXT NOT NULL, duration_seconds INTEGER NOT NULL)""",
    "restaurants": """CREATE TABLE restaurants (
        id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL, cuisine TEXT NOT NULL,
        avg_price_per_person REAL NOT NULL, rating REAL NOT NULL, address TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '', opening_hours TEXT NOT NULL)""",
    "accommodations": """CREATE TABLE accommodations (
        id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL, type TEXT NOT NULL,
        price_per_night REAL NOT NULL, rating REAL NOT NULL, max_guests INTEGER NOT NULL,
        amenities TEXT NOT NULL DEFAULT '', address TEXT NOT NULL)""",
    "attractions": """CREATE TABLE attractions (
        id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL, category TEXT NOT NULL,
        rating REAL NOT NULL, indoor INTEGER NOT NULL, opening_hours TEXT NOT NULL, description TEXT NOT NULL)""",
    "flights": """CREATE TABLE flights (
        id INTEGER PRIMARY KEY, flight_number TEXT NOT NULL, airline TEXT NOT NULL, origin_city TEXT NOT NULL,
        destination_city TEXT NOT NULL, departure_time TEXT NOT NULL, arrival_time TEXT NOT NULL,
        economy_price REAL NOT NULL, premium_economy_price REAL NOT NULL, business_price REAL NOT NULL)""",
    "products": """CREATE TABLE products (
        id TEXT PRIMARY KEY, title TEXT NOT NULL, category TEXT NOT NULL, brand TEXT NOT NULL,
        price REAL NOT NULL, rating REAL NOT NULL, tags TEXT NOT NULL DEFAULT '')""",
    "weather": """CREATE TABLE weather (
        city TEXT NOT NULL, date TEXT NOT NULL, condition TEXT NOT NULL, temp_min REAL NOT NULL,
        temp_max REAL NOT NULL, precipitation_chance INTEGER NOT NULL, humidity INTEGER NOT NULL,
        wind_kph REAL NOT NULL, uv_index INTEGER NOT NULL, PRIMARY KEY (city, date))""",
    "news": """CREATE TABLE news (
        id INTEGER PRIMARY KEY, title TEXT NOT NULL, category TEXT NOT NULL, published_at TEXT NOT NULL,
        source TEXT NOT NULL, summary TEXT NOT NULL, popularity INTEGER NOT NULL)""",
    "wiki": "CREATE TABLE wiki (id INTEGER PRIMARY KEY, title TEXT NOT NULL, content TEXT NOT NULL)",
}
CATALOGUE_TABLES = (
    "tracks", "restaurants", "accommodations", "attractions", "flights", "products", "weather", "news", "wiki",
)
USER_TABLES = tuple(name for name in SCHEMA if name not in CATALOGUE_TABLES)


def connect_memory() -> sqlite3.Connection:
    """An empty in-memory database in autocommit mode (calls manage their own savepoints)."""
    conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def table_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def primary_key(conn: sqlite3.Connection, table: str) -> list[str]:
    info = sorted((row[5], row[1]) for row in conn.execute(f"PRAGMA table_info({table})") if row[5])
    return [name for _, name in info]


def build_template(tables: Mapping[str, Iterable[Mapping[str, Any]]]) -> sqlite3.Connection:
    """A new in-memory database with the full schema and the given rows, table by table.

    Raises ValueError naming the table or column when a row does not fit the schema.
    """
    conn = connect_memory()
    for statement in SCHEMA.values():
        conn.execute(statement)
    conn.execute("BEGIN")
    try:
        for table, table_rows in tables.items():
            if table not in SCHEMA:
                raise ValueError(f"unknown table {table!r}; known tables: {sorted(SCHEMA)}")
            columns = set(table_columns(conn, table))
            for index, row in enumerate(table_rows):
                unknown = set(row) - columns
                if unknown:
                    raise ValueError(f"table {table!r}, row {index}: unknown columns {sorted(unknown)}")
                names = list(row)
                sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
                try:
                    conn.execute(sql, [row[n] for n in names])
                except sqlite3.Error as error:
                    raise ValueError(f"table {table!r}, row {index}: {error}") from error
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        conn.close()
        raise
    return conn


_BACKUP_LOCK = threading.Lock()


def copy_database(source: sqlite3.Connection) -> sqlite3.Connection:
    """A pristine in-memory copy of `source` (SQLite online backup; the source is not modified)."""
    target = connect_memory()
    with _BACKUP_LOCK:
        source.backup(target)
    return target


Snapshot = dict[str, dict[tuple, dict[str, Any]]]


def snapshot(conn: sqlite3.Connection, tables: Iterable[str] = USER_TABLES) -> Snapshot:
    """table -> {primary key tuple: row dict}, for diffing."""
    result: Snapshot = {}
    for table in tables:
        key = primary_key(conn, table)
        cursor = conn.execute(f"SELECT * FROM {table}")
        names = [d[0] for d in cursor.description]
        result[table] = {}
        for values in cursor.fetchall():
            row = dict(zip(names, values))
            result[table][tuple(row[k] for k in key)] = row
    return result


def diff_snapshots(start: Snapshot, end: Snapshot) -> dict[str, dict[str, list]]:
    """Per changed table: inserted rows, deleted rows and updated {"before", "after"} pairs."""
    changes: dict[str, dict[str, list]] = {}
    for table in end:
        before, after = start.get(table, {}), end[table]
        inserted = [after[k] for k in after if k not in before]
        deleted = [before[k] for k in before if k not in after]
        updated = [{"before": before[k], "after": after[k]} for k in after if k in before and before[k] != after[k]]
        if inserted or deleted or updated:
            changes[table] = {"inserted": inserted, "deleted": deleted, "updated": updated}
    return changes
