"""The shared catalogues every user's world holds: music, places, flights, products, weather, news, wiki.

Generated from hand-written building blocks with a fixed seed, so that every run (and every machine)
builds the same world. All names are invented.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from tooltune.sandbox.catalogue_words import (
    ACCOMMODATION_WORDS,
    ATTRACTION_NAMES,
    CITY_CLIMATE,
    CUISINES,
    GENRE_ARTISTS,
    GENRE_TITLE_WORDS,
    NEWS_HEADLINES,
    PRODUCT_TYPES,
    RESTAURANT_WORDS,
    STREETS,
    WIKI_ARTICLES,
)

SEED = 20240906
BASE_DATE = date(2024, 9, 6)
"""'Today' of most instructions (a Friday); user data and catalogues span the days around it."""
CITIES = tuple(CITY_CLIMATE)
AIRLINES = ("Skyline Air", "Bluejay Airways", "Meridian Airlines", "Northstar Air")
RAINY_DATE = date(2024, 9, 7)
"""A storm front crosses the country on Saturday: every city gets rain (proactive key points rely on it)."""

Rows = list[dict[str, Any]]


def _rng(*parts: object) -> random.Random:
    return random.Random(f"{SEED}:" + ":".join(map(str, parts)))


def tracks() -> Rows:
    result, seen = [], set()
    for genre, artists in GENRE_ARTISTS.items():
        first, second, moods = GENRE_TITLE_WORDS[genre]
        rng = _rng("tracks", genre)
        for artist in artists:
            made = 0
            while made < 3:
                title = f"{rng.choice(first)} {rng.choice(second)}"
                if title in seen:
                    continue
                seen.add(title)
                made += 1
                result.append({"id": len(result) + 1, "title": title, "artist": artist, "genre": genre,
                               "mood": rng.choice(moods), "duration_seconds": rng.randint(150, 330)})
    return result


def restaurants() -> Rows:
    result = []
    for city in CITIES:
        rng = _rng("restaurants", city)
        for cuisine, (words, tags) in CUISINES.items():
            for tier, (low, high) in enumerate(((12, 24), (42, 140))):
                name = f"{rng.choice(RESTAURANT_WORDS)} {rng.choice(words)}"
                extra = rng.sample(["outdoor seating", "kid-friendly", "quiet", "live music", "late night"], 2)
                result.append({
                    "id": len(result) + 1, "name": name, "city": city, "cuisine": cuisine,
                    "avg_price_per_person": float(rng.randint(low, high)),
                    "rating": round(rng.uniform(3.9, 4.6) + 0.25 * tier, 1),
                    "address": f"{rng.randint(10, 2999)} {rng.choice(STREETS)}, {city}",
                    "tags": ", ".join(tags + extra),
                    "opening_hours": "11:00-22:00" if tier == 0 else "17:00-23:00",
                })
    return result


def accommodations() -> Rows:
    result = []
    tiers = (((70, 105), 4), ((120, 210), 4), ((280, 550), 6))
    for city in CITIES:
        rng = _rng("accommodations", city)
        for kind, (first, second, amenities) in ACCOMMODATION_WORDS.items():
            for (low, high), guests in tiers:
                result.append({
                    "id": len(result) + 1, "name": f"{rng.choice(first)} {rng.choice(second)}", "city": city,
                    "type": kind, "price_per_night": float(rng.randint(low, high)),
                    "rating": round(rng.uniform(3.8, 4.9), 1), "max_guests": guests + (2 if kind != "hotel" else 0),
                    "amenities": ", ".join(rng.sample(amenities, 3)),
                    "address": f"{rng.randint(10, 2999)} {rng.choice(STREETS)}, {city}",
                })
    return result


def attractions() -> Rows:
    result = []
    for city in CITIES:
        rng = _rng("attractions", city)
        for category, (names, indoor, hours) in ATTRACTION_NAMES.items():
            for name in rng.sample(names, 2):
                result.append({
                    "id": len(result) + 1, "name": name, "city": city, "category": category,
                    "rating": round(rng.uniform(4.0, 4.9), 1), "indoor": int(indoor), "opening_hours": hours,
                    "description": f"A well-loved {category} in {city}.",
                })
    return result


def flights() -> Rows:
    result = []
    for origin in CITIES:
        for destination in CITIES:
            if origin == destination:
                continue
            rng = _rng("flights", origin, destination)
            hours = rng.uniform(1.5, 6.0)
            base = round(90 + 45 * hours)
            for offset in range(-1, 7):
                day = BASE_DATE + timedelta(days=offset)
                for start_hour in (rng.randint(6, 9), rng.randint(12, 15), rng.randint(18, 21)):
                    depart = datetime.combine(day, datetime.min.time()) + timedelta(
                        hours=start_hour, minutes=rng.choice((0, 15, 30, 45)))
                    economy = float(base + rng.randint(-30, 60))
                    result.append({
                        "id": len(result) + 1,
                        "flight_number": f"{rng.choice('SBMN')}{rng.choice('KJAS')}{rng.randint(100, 999)}",
                        "airline": rng.choice(AIRLINES), "origin_city": origin, "destination_city": destination,
                        "departure_time": depart.strftime("%Y-%m-%d %H:%M:%S"),
                        "arrival_time": (depart + timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S"),
                        "economy_price": economy, "premium_economy_price": round(economy * 1.6),
                        "business_price": round(economy * 3.2),
                    })
    return result


def products() -> Rows:
    result = []
    for category, kind, brands, (low, high), tags in PRODUCT_TYPES:
        rng = _rng("products", kind)
        step = (high - low) / len(brands)
        for tier, brand in enumerate(brands):  # brands are listed from cheap to premium
            # the cheapest brand stays close to the bottom of the range, so every budget finds something
            span = (low, low * 1.25) if tier == 0 else (low + step * tier, low + step * (tier + 0.8))
            price = round(rng.uniform(*span), 2)
            result.append({
                "id": f"P{len(result) + 1001}", "title": f"{brand} {kind}", "category": category, "brand": brand,
                "price": price, "rating": round(rng.uniform(3.6, 4.9), 1), "tags": ", ".join(tags),
            })
    return result


def weather() -> Rows:
    conditions = ("sunny", "partly cloudy", "cloudy", "light rain", "rain", "thunderstorms")
    result = []
    for city, (low, high, wet) in CITY_CLIMATE.items():
        rng = _rng("weather", city)
        for offset in range(-5, 10):
            day = BASE_DATE + timedelta(days=offset)
            rain = 85 if day == RAINY_DATE else rng.choice((0, 5, 10, 20, 30, 40)) + (10 if wet else 0)
            if day == BASE_DATE:
                rain = min(rain, 20)
            condition = conditions[min(5, rain // 18)] if day != RAINY_DATE else rng.choice(("rain", "thunderstorms"))
            swing = rng.uniform(-2.5, 2.5)
            result.append({
                "city": city, "date": day.isoformat(), "condition": condition,
                "temp_min": round(low + swing, 1), "temp_max": round(high + swing - (3 if rain > 60 else 0), 1),
                "precipitation_chance": rain, "humidity": rng.randint(45, 85),
                "wind_kph": round(rng.uniform(5, 30), 1), "uv_index": rng.randint(1, 4) if rain > 50 else rng.randint(4, 9),
            })
    return result


def news() -> Rows:
    result = []
    for category, headlines in NEWS_HEADLINES.items():
        rng = _rng("news", category)
        for index, (title, summary) in enumerate(headlines):
            published = datetime.combine(BASE_DATE, datetime.min.time()) - timedelta(
                hours=6 * (len(headlines) - 1 - index) - 7)
            result.append({
                "id": len(result) + 1, "title": title, "category": category,
                "published_at": published.strftime("%Y-%m-%d %H:%M:%S"),
                "source": rng.choice(("Daily Ledger", "The Metro Wire", "Signal News", "Open Courier")),
                "summary": summary, "popularity": rng.randint(100, 9999),
            })
    return result


def wiki() -> Rows:
    return [{"id": i + 1, "title": title, "content": content} for i, (title, content) in enumerate(WIKI_ARTICLES)]


@lru_cache(maxsize=1)
def catalogue_rows() -> dict[str, Rows]:
    """table -> rows of every shared catalogue (built once per process)."""
    return {
        "tracks": tracks(), "restaurants": restaurants(), "accommodations": accommodations(),
        "attractions": attractions(), "flights": flights(), "products": products(), "weather": weather(),
        "news": news(), "wiki": wiki(),
    }
