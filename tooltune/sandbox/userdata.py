"""Each user's own app data, derived from their profile with a seeded generator.

What the apps hold agrees with the profile: favourites come from the preferred genres and artists,
past playback used the preferred volume, mail comes from the common contacts, workouts are of the
preferred types and lengths, calendar events are the hand-written ones plus planned workouts.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from tooltune.sandbox.catalogue import BASE_DATE, SEED, catalogue_rows
from tooltune.sandbox.catalogue_words import CITY_CLIMATE
from tooltune.sandbox.users import UserProfile

Rows = list[dict[str, Any]]
ROOMS = ("living room", "bedroom", "kitchen", "dining room", "bathroom", "study")
WORKOUT_HOURS = {"morning": "07:00", "lunchtime": "12:15", "afternoon": "16:30", "evening": "18:30", "weekend": "09:00"}

_MAIL: dict[str, list[tuple[str, str]]] = {
    "family": [("Dinner this weekend?", "Hi {first}, are you free for dinner on Sunday evening? I can cook. Love, {sender}"),
               ("Photos from the trip", "Hi {first}, I finally sorted the photos from our trip - they're in the shared album. {sender}")],
    "friend": [("Catch up soon?", "Hey {first}! It's been too long. Coffee or a walk next week? Let me know what works. {sender}"),
               ("That place you told me about", "Hi {first}, I tried the place you recommended - loved it. Next time together? {sender}")],
    "colleague": [("Notes from today's meeting", "Hi {first}, here are my notes from the meeting. Could you add your comments by Monday? Thanks, {sender}"),
                  ("Quick question", "Hi {first}, do you have the latest version of the file? I want to check one number before Tuesday. {sender}")],
    "manager": [("Priorities for next week", "Hi {first}, could we find 30 minutes early next week to go over priorities? {sender}"),
                ("Great work", "Hi {first}, thanks for the effort this week - it really showed. {sender}")],
    "other": [("Following up", "Hello {first}, just following up on our last conversation. Let me know if you have questions. Best, {sender}"),
              ("Reminder", "Hello {first}, a friendly reminder about next week's appointment. Reply if you need to reschedule. {sender}")],
}
_MOODS = ["calm", "focused", "content", "tired", "energetic", "stressed", "happy"]


def _at(day: int, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime.combine(BASE_DATE + timedelta(days=day), datetime.min.time()) + timedelta(hours=hour, minutes=minute)


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _events(user: UserProfile) -> Rows:
    prefs = user.preferences
    events = []
    for event in user.facts.get("events", []):
        start = _at(event["day"], event["start"])
        events.append((start, start + timedelta(minutes=event["minutes"]), event["title"], event.get("location", "")))
    health = prefs["health"]
    hhmm = WORKOUT_HOURS.get(health["workout_time"], "07:00")
    for day, activity in zip((3, 5), health["workout_types"] * 2):
        start = _at(day, hhmm)
        events.append((start, start + timedelta(minutes=health["workout_minutes"][0]), f"{activity.title()} session", ""))
    friend = next(c for c in prefs["email"]["common_contacts"] if c["relation"] in ("friend", "family"))
    start = _at(-1, "19:00")
    events.append((start, start + timedelta(hours=2), f"Dinner with {friend['name'].split()[0]}", ""))
    events.sort()
    return [{"id": i + 1, "title": title, "description": "", "start_time": _fmt(start), "end_time": _fmt(end),
             "location": location, "reminder_minutes": prefs["calendar"]["reminder_minutes"]}
            for i, (start, end, title, location) in enumerate(events)]


def _alarms(user: UserProfile) -> Rows:
    wake = user.preferences["calendar"]["wake_up_time"]
    weekdays = (0, 3, 4, 5)  # no alarm on the weekend (days 1 and 2)
    return [{"id": i + 1, "alarm_time": _fmt(_at(day, wake)), "message": "Wake up", "enabled": 1}
            for i, day in enumerate(weekdays)]


def _emails(user: UserProfile, rng: random.Random) -> Rows:
    contacts = user.preferences["email"]["common_contacts"]
    mails: list[tuple[datetime, str, str, str, str, str, int]] = []
    for index, contact in enumerate(contacts):
        relation = contact["relation"] if contact["relation"] in _MAIL else "other"
        templates = _MAIL[relation]
        sender_first = contact["name"].split()[-1] if contact["name"].startswith(("Dr.", "Prof.", "Ms.", "Coach")) else contact["name"].split()[0]
        for n, (subject, body) in enumerate(templates):
            # one older mail per contact, and today's mail from the first two contacts
            day, hhmm = (-(index + 1), "10:15") if n == 0 else (0, ("07:10", "08:20", "13:05", "17:40")[index])
            text = body.format(first=user.first_name, sender=sender_first)
            mails.append((_at(day, hhmm), contact["email"], user.email, subject, text, "inbox", int(n == 0)))
    topic = user.preferences["web"]["news_categories"][0]
    mails.append((_at(0, "06:00"), f"digest@{topic}weekly.com", user.email, f"Your {topic} digest",
                  f"This week's top {topic} stories, picked for you.", "inbox", 0))
    first = contacts[0]
    mails.append((_at(-1, "21:30"), user.email, first["email"], "Re: plans",
                  f"Sounds good, talk tomorrow. {user.preferences['email']['sign_off']}", "sent", 1))
    mails.sort()
    return [{"id": 1000 + i, "sender": s, "receiver": r, "subject": subj, "content": text, "timestamp": _fmt(t),
             "folder": folder, "is_read": read, "attachments": ""}
            for i, (t, s, r, subj, text, folder, read) in enumerate(mails)]


def _health(user: UserProfile, rng: random.Random) -> Rows:
    goals = user.preferences["health"]
    age = user.persona["age"]
    records = []
    for day in range(-7, 3):
        sleep = round(goals["sleep_goal_hours"] + rng.uniform(-1.5, 0.5), 1)
        for slot in range(0, 24, 3):
            moment = _at(day, f"{slot:02d}:00")
            awake = 6 <= slot <= 21
            steps = int(goals["daily_step_goal"] / 6 * rng.uniform(0.5, 1.3)) if awake else 0
            records.append({
                "timestamp": _fmt(moment), "steps": steps,
                "heart_rate": rng.randint(58, 72) + (12 if awake else 0) + (age > 60) * 4,
                "sleep_hours": sleep, "blood_pressure": f"{rng.randint(110, 124) + age // 8}/{rng.randint(70, 82)}",
                "blood_oxygen": rng.randint(96, 99), "mood": rng.choice(_MOODS) if awake else "asleep",
                "stress_level": rng.randint(1, 5), "energy_level": rng.randint(3, 9) if awake else 2,
            })
    return records


def _workouts(user: UserProfile, rng: random.Random) -> Rows:
    health = user.preferences["health"]
    hhmm = WORKOUT_HOURS.get(health["workout_time"], "07:00")
    low, high = health["workout_minutes"]
    result = []
    for index, day in enumerate((-7, -5, -3, -1)):
        minutes = rng.randint(low, high)
        start = _at(day, hhmm)
        activity = health["workout_types"][index % len(health["workout_types"])]
        result.append({"id": index + 1, "activity": activity, "start_time": _fmt(start),
                       "end_time": _fmt(start + timedelta(minutes=minutes)), "duration_minutes": minutes,
                       "calories": minutes * rng.randint(5, 10), "avg_heart_rate": rng.randint(105, 150),
                       "distance_km": None, "notes": ""})
    return result


def _music(user: UserProfile, rng: random.Random) -> tuple[Rows, Rows]:
    music = user.preferences["music"]
    tracks = catalogue_rows()["tracks"]
    # two of the three tracks of each favourite artist: the third is left to discover
    chosen = [t for artist in music["favorite_artists"] for t in [x for x in tracks if x["artist"] == artist][:2]]
    others = [t for t in tracks if t["genre"] in music["genres"] and t["artist"] not in music["favorite_artists"]]
    chosen += rng.sample(others, min(2, len(others)))
    favorites = [{"track_id": t["id"], "added_at": _fmt(_at(-30 + i, "20:00"))} for i, t in enumerate(chosen)]
    low, high = music["volume_range"]
    playback = [{"id": i + 1, "track_id": t["id"], "volume_level": rng.randint(low, high),
                 "started_at": _fmt(_at(-3 + i, "19:30"))} for i, t in enumerate(rng.sample(chosen, 3))]
    return favorites, playback


def _shopping(user: UserProfile, rng: random.Random) -> tuple[Rows, Rows]:
    shop = user.preferences["shopping"]
    products = catalogue_rows()["products"]
    affordable = [p for p in products if p["category"] != "Groceries" and p["price"] <= shop["budget_per_item"]]
    liked = [p for p in affordable if p["brand"] in shop["brands"]]
    picks = rng.sample(liked, min(2, len(liked)))
    picks += rng.sample([p for p in affordable if p not in picks], 2 - len(picks))
    cart = [{"product_id": p["id"], "quantity": 1, "added_at": _fmt(_at(-2, "21:00"))} for p in picks]
    groceries = [p for p in products if shop["grocery_tags"][0] in p["tags"].split(", ")]
    orders = [{"id": i + 1, "product_id": p["id"], "quantity": 1, "unit_price": p["price"],
               "ordered_at": _fmt(_at(-6, "18:00"))} for i, p in enumerate(groceries[:3])]
    return cart, orders


def _home(user: UserProfile) -> dict[str, Rows]:
    low, high, _ = CITY_CLIMATE[user.city]
    return {
        "lights": [{"room": room, "is_on": 0, "brightness": 100, "color": "neutral white"} for room in ROOMS],
        # a warm September afternoon indoors: a few degrees above what the user likes
        "thermostat": [{"id": 1, "current_temperature": round(max((low + high) / 2 + 2, user.preferences["smart_home"]["temperature"] + 3), 1),
                        "current_humidity": 58,
                        "target_temperature": 24.0, "target_humidity": 50, "mode": "off"}],
        "appliances": [
            {"name": "curtains", "state": "closed"},
            {"name": "kettle", "state": "idle", "temperature": 20.0},
            {"name": "bathtub", "state": "empty", "water_level": 0, "temperature": 20.0},
        ],
    }


def user_rows(user: UserProfile) -> dict[str, Rows]:
    """table -> this user's rows (catalogues excluded)."""
    rng = random.Random(f"{SEED}:{user.id}")
    favorites, playback = _music(user, rng)
    cart, orders = _shopping(user, rng)
    info = {"name": user.name, "email": user.email, "home_city": user.city,
            "home_address": user.facts.get("home_address", ""), "office": user.facts.get("office", "")}
    return {
        "user_info": [{"key": k, "value": v} for k, v in info.items()],
        "events": _events(user), "alarms": _alarms(user), "emails": _emails(user, rng),
        "health_records": _health(user, rng), "workouts": _workouts(user, rng),
        "favorites": favorites, "playback": playback, "cart": cart, "orders": orders, **_home(user),
    }
