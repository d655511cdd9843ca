"""Turning ETAPP's per-user CSVs and shared tables into rows of tooltune's sandbox schema.

Columns that tooltune has and ETAPP lacks are filled with neutral values, and each such fill is
noted in the import report. Rows that cannot be read are skipped and counted, never guessed.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from tooltune.bench.etapp.report import ImportReport

EPOCH = "2024-09-01 00:00:00"
Row = dict[str, Any]


def file_stem(name: str) -> str:
    """ETAPP's spelling of a user in file names: 'Alex Johnson' -> 'Alex_Johnson'."""
    return name.strip().replace(" ", "_")


# The columns each upstream table must have (the row converters below read them); others are optional.
COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("id", "title", "start_time", "end_time"),
    "alarms": ("id", "alarm_time"),
    "emails": ("id", "sender", "receiver", "subject", "content", "timestamp"),
    "health_records": ("timestamp", "steps", "heart_rate", "sleep_hours", "blood_pressure", "blood_oxygen_saturation",
                       "mood", "stress_level"),
    "workouts": ("Activity Type", "Start Time", "End Time", "Duration", "Calories Burned"),
    "favorites": ("title", "artist"),
    "cart": ("asin",),
    "accommodations": ("NAME", "city", "price"),
    "attractions": ("Name", "City"),
}


def read_csv(root: Path, rel: str, target: str, report: ImportReport,
             columns: tuple[str, ...] = ()) -> list[dict[str, str]] | None:
    """Rows of an upstream CSV, or None (reported) when it is missing, unreadable or lacks `columns`.

    Rows with fewer or more cells than the header (a cut-off file, a stray delimiter) are dropped and the
    file is reported as "truncated", with the rows it kept.
    """
    path = root / rel
    if not path.exists():
        report.add(rel, "missing", target, "left empty")
        return None
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        report.add(rel, "unreadable", target, f"{type(error).__name__}: {error}")
        return None
    absent = [c for c in columns if c not in header]
    if not header or absent:
        shown = ", ".join(repr(c) for c in header[:8]) + (" ..." if len(header) > 8 else "")
        report.add(rel, "unreadable", target, f"header lacks {absent or list(columns)} (header: {shown or 'none'})")
        return None
    whole = [r for r in rows if None not in r and None not in r.values()]
    if len(whole) < len(rows):
        first = next(i for i, r in enumerate(rows) if None in r or None in r.values())
        report.add(rel, "truncated", target, f"{len(rows) - len(whole)} rows with a wrong number of cells skipped "
                                             f"(first: data row {first + 1}); {len(whole)} rows kept")
        return whole
    report.add(rel, "found", target)
    return rows


def _number(text: str | None, kind: Callable[[str], Any] = float) -> Any:
    cleaned = re.sub(r"[^0-9.\-]", "", text or "")
    return kind(float(cleaned)) if cleaned not in ("", "-", ".") else None


def _required(text: str | None, kind: Callable[[str], Any] = float) -> Any:
    """A number that the schema needs; a blank or non-numeric cell makes the row unreadable."""
    value = _number(text, kind)
    if value is None:
        raise ValueError(f"not a number: {text!r}")
    return value


def convert(rows: Iterable[dict[str, str]], make: Callable[[dict[str, str]], Row | None], key: Callable[[Row], Any],
            where: str, report: ImportReport) -> list[Row]:
    """Apply `make` to each row, skipping unreadable rows and duplicate keys (both counted in the report)."""
    out, seen, bad, dup = [], set(), 0, 0
    for raw in rows:
        try:
            row = make(raw)
        except (KeyError, ValueError, TypeError):
            row = None
        if row is None:
            bad += 1
            continue
        if key(row) in seen:
            dup += 1
            continue
        seen.add(key(row))
        out.append(row)
    if bad or dup:
        report.note(f"{where}: skipped {bad} unreadable and {dup} duplicate rows")
    return out


def _minutes_before(start: str, reminder: str) -> int | None:
    if not reminder or reminder.strip() in ("None", ""):
        return None
    delta = datetime.fromisoformat(start) - datetime.fromisoformat(reminder.strip())
    return max(0, int(delta.total_seconds() // 60))


def event_row(raw: dict[str, str]) -> Row:
    return {"id": int(raw["id"]), "title": raw["title"], "description": raw.get("description") or "",
            "start_time": raw["start_time"], "end_time": raw["end_time"],
            "reminder_minutes": _minutes_before(raw["start_time"], raw.get("reminder") or "")}


def alarm_row(raw: dict[str, str]) -> Row:
    return {"id": int(raw["id"]), "alarm_time": raw["alarm_time"], "message": raw.get("message") or ""}


def email_row(raw: dict[str, str]) -> Row:
    return {"id": int(raw["id"]), "sender": raw["sender"], "receiver": raw["receiver"], "subject": raw["subject"],
            "content": raw["content"], "timestamp": raw["timestamp"],
            "folder": "sent" if (raw.get("status") or "").strip().lower() == "sent" else "inbox",
            "is_read": int((raw.get("read_status") or "").strip().lower() == "read"),
            "attachments": raw.get("attachments") or ""}


def health_row(raw: dict[str, str]) -> Row:
    return {"timestamp": raw["timestamp"], "steps": _required(raw["steps"], int),
            "heart_rate": _required(raw["heart_rate"], int), "sleep_hours": _required(raw["sleep_hours"]),
            "blood_pressure": raw["blood_pressure"], "blood_oxygen": _required(raw["blood_oxygen_saturation"], int),
            "mood": raw["mood"], "stress_level": _required(raw["stress_level"], int), "energy_level": 0}


def workout_row(index: int, raw: dict[str, str]) -> Row:
    notes = ". ".join(x for x in (raw.get("Exercise Effect Analysis"), raw.get("System Suggestion")) if x)
    return {"id": index + 1, "activity": raw["Activity Type"], "start_time": raw["Start Time"],
            "end_time": raw["End Time"], "duration_minutes": _required(raw["Duration"], int),
            "calories": _required(raw["Calories Burned"], int), "avg_heart_rate": _number(raw.get("Average Heart Rate"), int),
            "distance_km": _number(raw.get("Distance")), "notes": notes}


def user_email(emails: list[Row], fallback: str) -> str:
    """The user's own address: the most frequent sender of the sent folder."""
    senders = Counter(e["sender"] for e in emails if e["folder"] == "sent")
    return senders.most_common(1)[0][0] if senders else fallback


def track_rows(favourites: dict[str, list[dict[str, str]]]) -> tuple[list[Row], dict[tuple[str, str], int]]:
    """A music catalogue from the union of the users' favourites (upstream has no catalogue file)."""
    ids: dict[tuple[str, str], int] = {}
    tracks = []
    for rows in favourites.values():
        for raw in rows:
            key = ((raw.get("title") or "").strip(), (raw.get("artist") or "").strip())
            if not key[0] or key in ids:
                continue
            ids[key] = len(ids) + 1
            tracks.append({"id": ids[key], "title": key[0], "artist": key[1], "genre": raw.get("music_type") or "",
                           "mood": "", "duration_seconds": 0})
    return tracks, ids


def product_rows(carts: dict[str, list[dict[str, str]]]) -> list[Row]:
    """A product catalogue from the union of the users' carts (upstream's product file is not released)."""
    products: dict[str, Row] = {}
    for rows in carts.values():
        for raw in rows:
            asin = (raw.get("asin") or "").strip()
            price = _number(raw.get("product_price"))
            if asin and asin not in products and price is not None:
                products[asin] = {"id": asin, "title": raw.get("product_title") or asin,
                                  "category": raw.get("category") or "", "brand": "", "price": price, "rating": 0.0}
    return list(products.values())


def accommodation_row(raw: dict[str, str]) -> Row:
    return {"id": int(raw[""] if "" in raw else raw["id"]), "name": raw["NAME"].strip(), "city": raw["city"].strip(),
            "type": raw.get("room type") or "", "price_per_night": _required(raw["price"]),
            "rating": _number(raw.get("review rate number")) or 0.0,
            "max_guests": _number(raw.get("maximum occupancy"), int) or 1,
            "amenities": raw.get("house_rules") or "", "address": ""}


def attraction_row(index: int, raw: dict[str, str]) -> Row:
    details = ", ".join(x for x in (raw.get("Address"), raw.get("Phone"), raw.get("Website")) if x)
    return {"id": index + 1, "name": raw["Name"].strip(), "city": raw["City"].strip(), "category": "",
            "rating": 0.0, "indoor": 0, "opening_hours": "", "description": details}


def home_rows() -> dict[str, list[Row]]:
    """Smart-home devices in a neutral start state (ETAPP simulates them without stored state)."""
    rooms = ("living room", "bedroom", "kitchen", "bathroom", "study")
    return {
        "lights": [{"room": r, "is_on": 0, "brightness": 0, "color": "warm white"} for r in rooms],
        "thermostat": [{"id": 1, "current_temperature": 22.0, "current_humidity": 45, "target_temperature": 22.0,
                        "target_humidity": 45, "mode": "auto"}],
        "appliances": [{"name": "kettle", "state": "idle", "temperature": None, "water_level": None},
                       {"name": "bathtub", "state": "empty", "temperature": None, "water_level": 0},
                       {"name": "curtains", "state": "closed", "temperature": None, "water_level": None}],
    }


FILLED = (
    "health_records.energy_level: not in ETAPP, set to 0",
    "tracks.mood / duration_seconds: not in ETAPP, set to '' / 0",
    "products.brand / rating, attractions.category / rating / indoor / opening_hours: not in ETAPP, left neutral",
    "favorites.added_at / cart.added_at: not in ETAPP, set to the start of the data (2024-09-01)",
    "smart-home devices: ETAPP keeps no state; every user starts with the same neutral home",
)
