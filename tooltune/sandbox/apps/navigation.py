"""Navigation app: restaurants, accommodations, attractions and flights, with bookings."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from tooltune.sandbox.tools import (
    Date, DateTime, Range, ToolContext, ToolError, format_time, parse_time, require_row, rows, tool,
)

SeatClass = Literal["economy", "premium_economy", "business"]


def known_city(ctx: ToolContext, table: str, city: str, column: str = "city") -> str:
    """The catalogue's spelling of `city`, or a not_found error listing the cities there are."""
    found = ctx.db.execute(f"SELECT {column} FROM {table} WHERE lower({column}) = lower(?) LIMIT 1",
                           (city.strip(),)).fetchone()
    if found:
        return found[0]
    cities = sorted({r[0] for r in ctx.db.execute(f"SELECT DISTINCT {column} FROM {table}")})
    raise ToolError("not_found", f"no {table} data for city {city!r}; known cities: {cities}")


@tool("navigation")
def find_restaurants(
    ctx: ToolContext, city: str, cuisine: str | None = None, max_price_per_person: float | None = None
) -> list[dict]:
    """Searches restaurants in a city, best rated first, optionally by cuisine and budget.

    Args:
        city: The city to search in, e.g. Chicago.
        cuisine: Only this cuisine, e.g. italian, japanese, vegetarian.
        max_price_per_person: Only places whose average price per person (USD) is at most this.
    """
    sql, params = "SELECT * FROM restaurants WHERE city = ?", [known_city(ctx, "restaurants", city)]
    if cuisine:
        sql += " AND lower(cuisine) = lower(?)"
        params.append(cuisine.strip())
    if max_price_per_person is not None:
        sql += " AND avg_price_per_person <= ?"
        params.append(max_price_per_person)
    return rows(ctx.db.execute(sql + " ORDER BY rating DESC, id", params))


@tool("navigation")
def find_accommodations(
    ctx: ToolContext,
    city: str,
    max_price_per_night: float | None = None,
    guests: Annotated[int, Range(1, 12)] | None = None,
) -> list[dict]:
    """Searches accommodations (hotels, B&Bs, apartments) in a city, best rated first.

    Args:
        city: The city to search in.
        max_price_per_night: Only places costing at most this per night (USD).
        guests: Only places that sleep at least this many guests (1-12).
    """
    sql, params = "SELECT * FROM accommodations WHERE city = ?", [known_city(ctx, "accommodations", city)]
    if max_price_per_night is not None:
        sql += " AND price_per_night <= ?"
        params.append(max_price_per_night)
    if guests is not None:
        sql += " AND max_guests >= ?"
        params.append(guests)
    return rows(ctx.db.execute(sql + " ORDER BY rating DESC, id", params))


@tool("navigation")
def find_attractions(ctx: ToolContext, city: str, category: str | None = None) -> list[dict]:
    """Searches attractions (parks, museums, galleries, landmarks...) in a city, best rated first.

    Args:
        city: The city to search in.
        category: Only this category, e.g. park, museum, gallery, landmark, market, music venue.
    """
    sql, params = "SELECT * FROM attractions WHERE city = ?", [known_city(ctx, "attractions", city)]
    if category:
        sql += " AND lower(category) = lower(?)"
        params.append(category.strip())
    return rows(ctx.db.execute(sql + " ORDER BY rating DESC, id", params))


@tool("navigation")
def find_flight(ctx: ToolContext, origin_city: str, destination_city: str, departure_date: Date) -> list[dict]:
    """Searches flights between two cities on a date, by departure time, with the price of each seat class.

    Args:
        origin_city: The city to fly from.
        destination_city: The city to fly to.
        departure_date: The date of departure, YYYY-MM-DD.
    """
    day = parse_time(departure_date, "departure_date").strftime("%Y-%m-%d")
    origin = known_city(ctx, "flights", origin_city, "origin_city")
    destination = known_city(ctx, "flights", destination_city, "destination_city")
    return rows(ctx.db.execute(
        "SELECT * FROM flights WHERE origin_city = ? AND destination_city = ? AND substr(departure_time, 1, 10) = ? "
        "ORDER BY departure_time", (origin, destination, day)))


@tool("navigation")
def book_flight(
    ctx: ToolContext, flight_id: int, seat_class: SeatClass, passengers: Annotated[int, Range(1, 9)] = 1
) -> dict:
    """Books seats on a flight in a seat class.

    Args:
        flight_id: ID of the flight, as listed by find_flight.
        seat_class: economy, premium_economy or business.
        passengers: Number of passengers (1-9).
    """
    flight = require_row(ctx, "flights", "id", flight_id, "flight")
    if parse_time(flight["departure_time"], "departure_time") <= ctx.now:
        raise ToolError("invalid_arguments", f"flight {flight['flight_number']} has already departed")
    total = round(flight[f"{seat_class}_price"] * passengers, 2)
    cursor = ctx.db.execute(
        "INSERT INTO flight_bookings (flight_id, seat_class, passengers, total_price, booked_at) VALUES (?, ?, ?, ?, ?)",
        (flight_id, seat_class, passengers, total, format_time(ctx.now)))
    return {"booking_id": cursor.lastrowid, "flight": flight["flight_number"], "seat_class": seat_class,
            "departure_time": flight["departure_time"], "total_price": total}


@tool("navigation")
def book_accommodation(
    ctx: ToolContext,
    accommodation_id: int,
    check_in: Date,
    nights: Annotated[int, Range(1, 30)],
    guests: Annotated[int, Range(1, 12)] = 1,
) -> dict:
    """Books an accommodation for some nights.

    Args:
        accommodation_id: ID of the accommodation, as listed by find_accommodations.
        check_in: Arrival date, YYYY-MM-DD; today or later.
        nights: Number of nights (1-30).
        guests: Number of guests (1-12); must fit the place.
    """
    place = require_row(ctx, "accommodations", "id", accommodation_id, "accommodation")
    arrival = parse_time(check_in, "check_in")
    if arrival.date() < ctx.now.date():
        raise ToolError("invalid_arguments", f"argument 'check_in': {check_in} is in the past")
    if guests > place["max_guests"]:
        raise ToolError("invalid_arguments", f"{place['name']} sleeps at most {place['max_guests']} guests")
    total = round(place["price_per_night"] * nights, 2)
    cursor = ctx.db.execute(
        "INSERT INTO accommodation_bookings (accommodation_id, check_in, nights, guests, total_price, booked_at) "
        "VALUES (?, ?, ?, ?, ?, ?)", (accommodation_id, check_in, nights, guests, total, format_time(ctx.now)))
    return {"booking_id": cursor.lastrowid, "name": place["name"], "check_in": check_in,
            "check_out": (arrival + timedelta(days=nights)).strftime("%Y-%m-%d"), "total_price": total}


def _open_at(hours: str, when: datetime) -> bool:
    opening, closing = hours.split("-")
    return opening <= when.strftime("%H:%M") <= closing


@tool("navigation")
def reserve_restaurant(
    ctx: ToolContext, restaurant_id: int, reservation_time: DateTime, party_size: Annotated[int, Range(1, 20)]
) -> dict:
    """Reserves a table at a restaurant.

    Args:
        restaurant_id: ID of the restaurant, as listed by find_restaurants.
        reservation_time: When, YYYY-MM-DD HH:MM:SS; in the future and within opening hours.
        party_size: Number of people (1-20).
    """
    place = require_row(ctx, "restaurants", "id", restaurant_id, "restaurant")
    when = parse_time(reservation_time, "reservation_time")
    if when <= ctx.now:
        raise ToolError("invalid_arguments", "argument 'reservation_time': must be in the future")
    if not _open_at(place["opening_hours"], when):
        raise ToolError("invalid_arguments", f"{place['name']} is open {place['opening_hours']} only")
    cursor = ctx.db.execute(
        "INSERT INTO restaurant_reservations (restaurant_id, reservation_time, party_size, booked_at) "
        "VALUES (?, ?, ?, ?)", (restaurant_id, format_time(when), party_size, format_time(ctx.now)))
    return {"reservation_id": cursor.lastrowid, "restaurant": place["name"], "address": place["address"],
            "reservation_time": format_time(when), "party_size": party_size}
