"""An ETAPP release as a tooltune suite: users, per-user template databases, and instruction x user cases.

Reads the upstream layout (data/instruction/instruction.json, profile/profiles.json,
profile/concrete_profile/profile_<User>.json, database/<App>/..._<User>.csv, toolkit/*/config.json).
Pickle files are reported and never opened; missing files are reported and their tables left empty.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tooltune.bench.etapp import tables as T
from tooltune.bench.etapp.report import ImportReport
from tooltune.bench.etapp.tools import map_tools, read_toolkit
from tooltune.errors import UsageError
from tooltune.sandbox.cases import Case, Instruction, KeyPoint
from tooltune.sandbox.suite import Suite
from tooltune.sandbox.tools import ToolError, all_tools, parse_time
from tooltune.sandbox.users import UserProfile

INSTRUCTIONS = "data/instruction/instruction.json"
PROFILES = "profile/profiles.json"
# ETAPP's concrete-preference sections -> tooltune app names
PREFERENCE_APPS = {"smart_home_devices": "smart_home", "web_browsing": "web"}
# Upstream sources that the public release lacks or ships as pickles: (glob, tooltune table, effect)
UNRELEASED = (
    ("database/Music/*", "tracks (full catalogue)", "catalogue built from the users' favourites only"),
    ("database/Shopping/*", "products", "catalogue built from the users' carts only"),
    ("database/Navigation/flights*/*", "flights", "find_flight answers not_found"),
    ("database/Navigation/restaurants*/*", "restaurants", "find_restaurants answers not_found"),
    ("database/Weather/*", "weather", "weather tools answer not_found"),
    ("database/Web_Browsing/*", "news, wiki", "news and wikipedia tools answer not_found"),
)


class EtappImportError(UsageError):
    """The directory is not an ETAPP release (a required file is missing or unreadable)."""


def _load_json(root: Path, rel: str, report: ImportReport, target: str) -> Any:
    path = root / rel
    if not path.exists():
        raise EtappImportError(f"{root} is not an ETAPP release: {rel} is missing ({target})")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise EtappImportError(f"{rel}: not valid JSON ({error})") from error
    report.add(rel, "found", target)
    return value


def _scan_pickles(root: Path, report: ImportReport) -> None:
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in (".pkl", ".pickle") and path.is_file():
            report.add(str(path.relative_to(root)), "pickled", "not read", "never unpickled; convert it to CSV/JSON")


class EtappSuite(Suite):
    """A sandbox Suite built from an ETAPP release; `import_report` says what was read and what was not."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise EtappImportError(f"ETAPP release directory not found: {root}")
        self.import_report = report = ImportReport(str(root))
        raw_instructions = _load_json(self.root, INSTRUCTIONS, report, "instructions")
        personas = _load_json(self.root, PROFILES, report, "user personas")
        if not isinstance(raw_instructions, list) or not isinstance(personas, dict):
            raise EtappImportError(f"{INSTRUCTIONS} must be a list and {PROFILES} an object of name -> persona")
        _scan_pickles(self.root, report)
        self._mapped = map_tools(read_toolkit(self.root, report), report)
        self._ours = {t.name: t for t in all_tools()}
        users = [self._user(name, persona) for name, persona in personas.items()]
        ids = [u.id for u in users]
        clash = sorted({i for i in ids if not i or ids.count(i) > 1})
        if clash:
            raise EtappImportError(f"{PROFILES}: user names must be distinct and non-empty (as file names), "
                                   f"got {clash[0]!r} twice or empty")
        self.instructions = [self._instruction(i, raw) for i, raw in enumerate(raw_instructions)]
        if not users or not self.instructions:
            raise EtappImportError(f"{root}: the release has {len(users)} users and {len(self.instructions)} "
                                   "instructions; it needs at least one of each")
        cases = [Case(f"{ins.id}@{u.id}", ins, u) for ins in self.instructions for u in users]
        self._user_rows = {u.id: self._read_user_rows(u) for u in users}
        self._shared = self._read_shared()
        for pattern, target, effect in UNRELEASED:
            if not any(p.suffix.lower() in (".csv", ".json") for p in self.root.glob(pattern)
                       if "favorites_" not in p.name and "carts_" not in p.name):
                report.add(pattern, "missing", target, effect)
        for text in T.FILLED:
            report.note(text)
        report.users, report.instructions, report.cases = len(users), len(self.instructions), len(cases)
        super().__init__(f"etapp:{root}", users, cases, self._rows_for, tools=list(self._mapped.values()))

    # -- users and instructions -------------------------------------------------------------------
    def _user(self, name: str, persona: Any) -> UserProfile:
        stem = T.file_stem(name)
        rel = f"profile/concrete_profile/profile_{stem}.json"
        preferences: dict[str, Any] = {}
        if (self.root / rel).exists():
            raw = _object(_load_json(self.root, rel, self.import_report, f"preferences of {name}"), rel)
            preferences = {PREFERENCE_APPS.get(k, k): v for k, v in raw.items()}
        else:
            self.import_report.add(rel, "missing", f"preferences of {name}", "profile has the persona only")
        persona = _object(persona, f"{PROFILES}: {name}")
        demographic = _section(persona, "DemographicData", f"{PROFILES}: {name}")
        basic = _section(demographic, "BasicInformation", f"{PROFILES}: {name}.DemographicData")
        status = _section(demographic, "SocioeconomicStatus", f"{PROFILES}: {name}.DemographicData")
        lifestyle = _section(persona, "Preferences", f"{PROFILES}: {name}").get("Lifestyle", {})
        fields = {"age": basic.get("Age"), "gender": basic.get("Gender"), "location": basic.get("Location", ""),
                  "occupation": basic.get("Occupation"), "character": basic.get("Character"),
                  "interests": demographic.get("InterestActivity"),
                  "lifestyle": "; ".join(str(v) for v in lifestyle.values()) if isinstance(lifestyle, dict) else None,
                  "income": status.get("IncomeLevel"), "education": status.get("EducationLevel")}
        # the persona fields tooltune's prompts render, plus ETAPP's full persona tree kept as it is
        flat = {k: v for k, v in fields.items() if v not in (None, "")} | {"location": fields["location"], **persona}
        return UserProfile(stem.lower(), name, flat, preferences, {"file_stem": stem})

    def _instruction(self, index: int, raw: Any) -> Instruction:
        iid, where = f"etapp-{index + 1:02d}", f"{INSTRUCTIONS}[{index}]"
        if not isinstance(raw, dict):
            raise EtappImportError(f"{where}: expected an object, got {type(raw).__name__}")
        query, timestamp = _text(raw, "query", where), _text(raw, "timestamp", where)
        location = _text(raw, "location", where, default="Home")
        try:
            parse_time(timestamp, "timestamp")
        except ToolError:
            raise EtappImportError(f"{where}.timestamp: {timestamp!r} is not a date/time (YYYY-MM-DD HH:MM:SS)"
                                   ) from None
        names = _texts(raw, "available_tools_name", where)
        points = [KeyPoint(f"{iid}-personal-{j + 1}", "personal", t)
                  for j, t in enumerate(_texts(raw, "keypoint for personal", where))]
        points += [KeyPoint(f"{iid}-proactive-{j + 1}", "proactive", t)
                   for j, t in enumerate(_texts(raw, "keypoint for proactive", where))]
        unlisted = [n for n in names if n not in self._mapped and n in self._ours]
        if unlisted:
            self.import_report.note(f"{iid}: tools not in the upstream toolkit, mapped by name: {unlisted}")
            self._mapped.update({n: self._ours[n] for n in unlisted})
        tools = [n for n in names if n in self._mapped]
        dropped = [n for n in names if n not in self._mapped]
        if dropped:
            self.import_report.note(f"{iid}: tools without a tooltune counterpart dropped: {dropped}")
        apps = sorted({self._mapped[n].app for n in tools})
        return Instruction(iid, query, timestamp, location, apps, tools, points)

    # -- state ------------------------------------------------------------------------------------
    def _read_user_rows(self, user: UserProfile) -> dict[str, list[dict]]:
        stem, report = user.facts["file_stem"], self.import_report
        def read(rel: str, target: str, table: str) -> list[dict[str, str]] | None:
            return T.read_csv(self.root, rel, target, report, T.COLUMNS[table])

        csv = {
            "events": read(f"database/Calendar/events/events_{stem}.csv", "events", "events"),
            "alarms": read(f"database/Calendar/alarms/alarms_{stem}.csv", "alarms", "alarms"),
            "emails": read(f"database/Email/emails_{stem}.csv", "emails", "emails"),
            "health": read(f"database/Health/Health_records_{stem}.csv", "health_records", "health_records"),
            "workouts": read(f"database/Health/Workout_records_{stem}.csv", "workouts", "workouts"),
            "favorites": read(f"database/Music/favorites_{stem}.csv", "favorites, tracks", "favorites"),
            "cart": read(f"database/Shopping/carts_{stem}.csv", "cart, products", "cart"),
        }
        where = f"user {user.id}"
        emails = T.convert(csv["emails"] or [], T.email_row, lambda r: r["id"], f"{where} emails", report)
        rows = {
            "events": T.convert(csv["events"] or [], T.event_row, lambda r: r["id"], f"{where} events", report),
            "alarms": T.convert(csv["alarms"] or [], T.alarm_row, lambda r: r["id"], f"{where} alarms", report),
            "emails": emails,
            "health_records": T.convert(csv["health"] or [], T.health_row, lambda r: r["timestamp"],
                                        f"{where} health records", report),
            "workouts": T.convert(list(enumerate(csv["workouts"] or [])), lambda p: T.workout_row(*p),
                                  lambda r: r["id"], f"{where} workouts", report),
            "_favorites": csv["favorites"] or [], "_cart": csv["cart"] or [],
        }
        info = {"name": user.name, "email": T.user_email(emails, f"{stem}@mail.com"),
                "home_city": user.persona.get("location", ""), "home_address": "", "office": ""}
        rows["user_info"] = [{"key": k, "value": str(v)} for k, v in info.items()]
        return rows

    def _read_shared(self) -> dict[str, list[dict]]:
        report = self.import_report
        tracks, self._track_ids = T.track_rows({u: r["_favorites"] for u, r in self._user_rows.items()})
        products = T.product_rows({u: r["_cart"] for u, r in self._user_rows.items()})
        shared: dict[str, list[dict]] = {"tracks": tracks, "products": products}
        accommodations = sorted((self.root / "database/Navigation/accommodations").glob("*.csv"))
        rows: list[dict] = []
        for path in accommodations:
            raw = T.read_csv(self.root, str(path.relative_to(self.root)), "accommodations", report,
                             T.COLUMNS["accommodations"]) or []
            rows += T.convert(raw, T.accommodation_row, lambda r: r["id"], "accommodations", report)
        if not accommodations:
            report.add("database/Navigation/accommodations/*.csv", "missing", "accommodations", "left empty")
        shared["accommodations"] = rows
        raw = T.read_csv(self.root, "database/Navigation/attractions/attractions.csv", "attractions", report,
                         T.COLUMNS["attractions"]) or []
        shared["attractions"] = T.convert(list(enumerate(raw)), lambda p: T.attraction_row(*p), lambda r: r["id"],
                                          "attractions", report)
        return shared

    def _rows_for(self, user: UserProfile) -> dict[str, list[dict]]:
        """The user's rows in tooltune's schema, shared catalogues and a neutral home included."""
        own = self._user_rows[user.id]
        rows = {k: v for k, v in own.items() if not k.startswith("_")}
        keys = dict.fromkeys(((r.get("title") or "").strip(), (r.get("artist") or "").strip())
                             for r in own["_favorites"])
        rows["favorites"] = [{"track_id": self._track_ids[k], "added_at": T.EPOCH} for k in keys if k in self._track_ids]
        known = {p["id"] for p in self._shared["products"]}
        cart = {(r.get("asin") or "").strip(): T._number(r.get("quantity"), int) or 1 for r in own["_cart"]}
        rows["cart"] = [{"product_id": a, "quantity": q, "added_at": T.EPOCH} for a, q in cart.items() if a in known]
        return {**rows, **T.home_rows(), **self._shared}


def _text(raw: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise EtappImportError(f"{where}.{key}: expected a string, got {_shown(raw, key)}")
    return value


def _texts(raw: dict[str, Any], key: str, where: str) -> list[str]:
    value = raw.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise EtappImportError(f"{where}.{key}: expected a list of strings, got {_shown(raw, key)}")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EtappImportError(f"{where}: expected an object, got {repr(value)[:80]}")
    return value


def _section(tree: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """An object inside a JSON tree (empty when absent); any other value is an error naming its place."""
    return _object(tree.get(key, {}), f"{where}.{key}")


def _shown(raw: dict[str, Any], key: str) -> str:
    return repr(raw[key])[:80] if key in raw else "nothing"


def load_etapp_suite(path: str | Path) -> EtappSuite:
    """Import an ETAPP release directory (see module docstring)."""
    return EtappSuite(path)
