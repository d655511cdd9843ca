"""Navigation instructions: restaurants, trips, places."""

from __future__ import annotations

from tooltune.sandbox.session import OMIT, Session
from tooltune.sandbox.tasks.base import (
    DINNER_TIMES, add_event, all_of, answer, arg, arg_row, called, day, forecast, free_slot, in_daypart,
    looked_first, names_event, open_at, personal, plus_minutes, pref, proactive, reservation_clear, row, sql, task,
)

CUISINE_OK = arg_row("reserve_restaurant", "restaurant_id", "restaurants", "cuisine", "in", pref("navigation.cuisines"))
PRICE_OK = arg_row("reserve_restaurant", "restaurant_id", "restaurants", "avg_price_per_person", "lte",
                   pref("navigation.restaurant_budget_per_person"))
SEAT_OK = arg("book_flight", "seat_class", "equals", pref("navigation.travel_class"))
DAYPART_OK = arg_row("book_flight", "flight_id", "flights", "departure_time", "time_in", pref("navigation.flight_time"))
STAY_TYPE_OK = arg_row("book_accommodation", "accommodation_id", "accommodations", "type", "in",
                       pref("navigation.accommodation_types"))
RESERVATION_IN_CALENDAR = row("events", "inserted", start_time=("equals", sql(
    "SELECT reservation_time FROM restaurant_reservations ORDER BY id DESC LIMIT 1")))
BOOKED_FLIGHT = "SELECT {} FROM flights f JOIN flight_bookings b ON b.flight_id = f.id ORDER BY b.id DESC LIMIT 1"
STAY_PRICE_OK = arg_row("book_accommodation", "accommodation_id", "accommodations", "price_per_night", "lte",
                        pref("navigation.accommodation_budget_per_night"))


def find_places(s: Session, city: str, moment: str) -> list[dict]:
    """Restaurants of the user's cuisines (in order) within budget that are open at `moment`."""
    budget = s.pref("navigation.restaurant_budget_per_person", OMIT)
    for cuisine in s.pref("navigation.cuisines", [OMIT]):
        found = s.call("find_restaurants", city=city, cuisine=cuisine, max_price_per_person=budget)
        open_now = [p for p in found if open_at(p["opening_hours"], moment)]
        if open_now:
            return open_now
    raise LookupError(f"no restaurant open at {moment}")


def book_stay(s: Session, city: str, check_in: str, nights: int, guests: int) -> dict:
    """Find and book the best-rated stay of the user's preferred type within budget."""
    places = s.call("find_accommodations", city=city, guests=guests,
                    max_price_per_night=s.pref("navigation.accommodation_budget_per_night", OMIT))
    types = s.pref("navigation.accommodation_types", [])
    place = next((p for p in places if p["type"] in types), places[0])
    booking = s.call("book_accommodation", accommodation_id=place["id"], check_in=check_in, nights=nights, guests=guests)
    return {**place, **booking}


def book_flight_on(s: Session, destination: str, date: str) -> dict:
    """Book the flight of the user's preferred time of day, in their travel class."""
    flights = s.call("find_flight", origin_city=s.user.city, destination_city=destination, departure_date=date)
    part = s.pref("navigation.flight_time", OMIT)
    flight = next((f for f in flights if part is not OMIT and in_daypart(f["departure_time"], part)), flights[0])
    booking = s.call("book_flight", flight_id=flight["id"], seat_class=s.pref("navigation.travel_class", "economy"))
    return {**flight, **booking}


@task("nav-lunch-01", "Please suggest a restaurant for lunch nearby.", at=day(0, "11:45"), location="Office",
      apps=["navigation", "calendar"], tools=["find_restaurants", "view_today_events_in_calendar"], keypoints=[
          personal("Search the user's preferred cuisines.", arg("find_restaurants", "cuisine", "in", pref("navigation.cuisines"))),
          personal("Keep to the user's budget per person.",
                   arg("find_restaurants", "max_price_per_person", "lte", pref("navigation.restaurant_budget_per_person"))),
          personal("Respect the user's dietary habits."),
          proactive("Check today's calendar around lunchtime and name the commitment lunch has to fit around.",
                    names_event(day(0, "11:45"), day(0, "13:30"))),
          proactive("Offer to reserve a table or give directions."),
      ])
def lunch(s: Session) -> None:
    places = find_places(s, s.user.city, day(0, "12:15"))
    events = [e for e in s.look("view_today_events_in_calendar", [])
              if e["start_time"] < day(0, "13:30") and e["end_time"] > day(0, "11:45")]
    top = places[0]
    busy = f" Mind \"{events[0]['title']}\" ({events[0]['start_time'][11:16]}-{events[0]['end_time'][11:16]}) " \
        "- a quick lunch fits around it." if events else ""
    s.say(f"Try {top['name']} ({top['cuisine']}, {top['address']}): rated {top['rating']}, about "
          f"${top['avg_price_per_person']:.0f} per person, tags: {top['tags']}." + s.offer(busy)
          + s.offer(" Shall I reserve a table?"))


@task("nav-dinner-02", "Book a table for dinner tonight for two.", at=day(0, "15:00"), location="Office",
      apps=["navigation", "calendar"],
      tools=["view_today_events_in_calendar", "find_restaurants", "reserve_restaurant", "add_event_in_calendar"],
      keypoints=[
          personal("Choose a cuisine the user likes.", CUISINE_OK),
          personal("Stay within the user's restaurant budget.", PRICE_OK),
          proactive("Check tonight's schedule before picking a time, and book a time that is free.",
                    looked_first("view_today_events_in_calendar", "reserve_restaurant", reservation_clear(90))),
          proactive("Add the dinner to the calendar at the reserved time.", RESERVATION_IN_CALENDAR),
      ])
def dinner(s: Session) -> None:
    events = s.look("view_today_events_in_calendar", [])
    start = free_slot(events, day(0), DINNER_TIMES, 90)
    place = find_places(s, s.user.city, start)[0]
    s.call("reserve_restaurant", restaurant_id=place["id"], reservation_time=start, party_size=2)
    add_event(s, f"Dinner at {place['name']}", start, 90, place["address"], extra=True)
    s.say(f"Booked a table for two at {place['name']} ({place['cuisine']}, ~${place['avg_price_per_person']:.0f} "
          f"per person) tonight at {start[11:16]}" + s.offer(", when you're free, and added it to your calendar")
          + ".")


@task("nav-trip-03", "I'm going to Nashville for two nights from tomorrow. Book me a flight tomorrow and somewhere to stay.",
      at=day(0, "10:00"), location="Office", apps=["navigation", "calendar", "weather"],
      tools=["view_events_in_calendar_by_providing_time_range", "find_flight", "book_flight", "find_accommodations",
             "book_accommodation", "get_future_weather"], keypoints=[
          personal("Book the user's usual travel class.", SEAT_OK),
          personal("Fly at the user's preferred time of day.", DAYPART_OK),
          personal("Stay in the user's preferred type of accommodation.", STAY_TYPE_OK),
          personal("Keep within the user's accommodation budget.", STAY_PRICE_OK),
          proactive("Check the calendar and name the events the trip conflicts with.", names_event(day(1), day(3))),
          proactive("Check Nashville's weather and pack the user's rain gear for the storm.",
                    all_of(called("get_future_weather"), answer("contains", pref("weather.rain_gear")))),
      ])
def nashville_trip(s: Session) -> None:
    events = s.look("view_events_in_calendar_by_providing_time_range", [], start_time=day(1), end_time=day(2))
    flight = book_flight_on(s, "Nashville", day(1))
    stay = book_stay(s, "Nashville", day(1), 2, 1)
    days = s.look("get_future_weather", [], location="Nashville", start_time=day(1), end_time=day(2))
    rainy = any(d["precipitation_chance"] >= 50 for d in days)
    gear = s.pref("weather.rain_gear", "umbrella")
    clash = f" In your calendar for those days: {', '.join(e['title'] for e in events)} - you may need to " \
        "reschedule." if events else ""
    s.say(f"Booked {flight['flight_number']} ({flight['airline']}) tomorrow at {flight['departure_time'][11:16]} in "
          f"{flight['seat_class'].replace('_', ' ')} (${flight['total_price']}), and {stay['name']} ({stay['type']}, "
          f"${stay['price_per_night']:.0f}/night) for 2 nights." + s.offer(clash)
          + (s.offer(f" Rain is forecast in Nashville, so pack your {gear}.") if rainy else ""))


@task("nav-stay-04", "Recommend places to stay in San Diego next weekend, and what I could see there.",
      at=day(0, "20:00"), location="Home", apps=["navigation"], tools=["find_accommodations", "find_attractions"],
      keypoints=[
          personal("Filter by the user's accommodation budget.",
                   arg("find_accommodations", "max_price_per_night", "lte", pref("navigation.accommodation_budget_per_night"))),
          personal("Prefer the user's favourite type of accommodation."),
          personal("Suggest attractions of the kinds the user enjoys.",
                   arg("find_attractions", "category", "in", pref("navigation.attraction_categories"))),
          proactive("Offer to book one of the places."),
      ])
def san_diego_stay(s: Session) -> None:
    places = s.call("find_accommodations", city="San Diego",
                    max_price_per_night=s.pref("navigation.accommodation_budget_per_night", OMIT))
    types = s.pref("navigation.accommodation_types", [])
    places.sort(key=lambda p: p["type"] not in types)
    sights = []
    for category in s.pref("navigation.attraction_categories", [OMIT]):
        sights += s.call("find_attractions", city="San Diego", category=category)[:2]
    s.say("Places to stay: " + "; ".join(f"{p['name']} ({p['type']}, ${p['price_per_night']:.0f}/night, "
                                          f"rated {p['rating']})" for p in places[:3])
          + ". To see: " + ", ".join(f"{a['name']} ({a['category']})" for a in sights) + ". Shall I book one?")


@task("nav-walk-05", "Are there any parks or similar places in this city where I can go for a walk tonight?",
      at=day(0, "17:00"), location="Home", apps=["navigation", "weather", "calendar"],
      tools=["find_attractions", "get_today_weather", "view_today_events_in_calendar"],
      keypoints=[
          personal("Search the user's own city.", arg("find_attractions", "city", "equals", {"persona": "location"})),
          personal("Consider the user's interests when picking places."),
          proactive("Check tonight's weather and report the conditions.",
                    answer("contains", forecast("condition", day(0)))),
          proactive("Check this evening's calendar and name what the walk has to fit around.",
                    names_event(day(0, "17:00"), day(1))),
          proactive("Suggest going before dark and what to wear."),
      ])
def evening_walk(s: Session) -> None:
    parks = s.call("find_attractions", city=s.user.city, category="park")
    gardens = s.call("find_attractions", city=s.user.city, category="garden")
    weather = s.look("get_today_weather", None, location=s.user.city)
    events = [e for e in s.look("view_today_events_in_calendar", []) if e["end_time"] > day(0, "17:00")]
    cool = weather and weather["temp_min"] < s.pref("weather.cold_below", 12)
    s.say("Good spots: " + ", ".join(f"{p['name']} (open {p['opening_hours']})" for p in parks + gardens[:1]) + "."
          + (s.offer(f" Tonight: {weather['condition']}, {weather['precipitation_chance']}% rain.") if weather else "")
          + (s.offer(f" You have \"{events[0]['title']}\" at {events[0]['start_time'][11:16]}, so go before "
                     "that.") if events else "")
          + s.offer(" Go before dark" + (" and take a jacket - it gets cool." if cool else ".")))


@task("nav-saturday-06", "Plan a fun Saturday for me in the city.", at=day(0, "19:00"), location="Home",
      apps=["navigation", "weather", "calendar"],
      tools=["view_events_in_calendar_by_providing_time_range", "get_future_weather", "find_attractions",
             "find_restaurants"], keypoints=[
          personal("Pick attractions of the kinds the user enjoys.",
                   arg("find_attractions", "category", "in", pref("navigation.attraction_categories"))),
          personal("Pick a restaurant of a cuisine the user likes.",
                   arg("find_restaurants", "cuisine", "in", pref("navigation.cuisines"))),
          proactive("Work around what is already planned on Saturday, naming it.", names_event(day(1), day(2))),
          proactive("Check Saturday's weather and report it.", answer("contains", forecast("condition", day(1)))),
          proactive("Storm on Saturday: favour indoor places and tell the user to bring their rain gear.",
                    all_of(called("get_future_weather"), answer("contains", pref("weather.rain_gear")))),
      ])
def saturday(s: Session) -> None:
    events = s.look("view_events_in_calendar_by_providing_time_range", [], start_time=day(1), end_time=day(1))
    days = s.look("get_future_weather", [], location=s.user.city, start_time=day(1), end_time=day(1))
    stormy = any(d["precipitation_chance"] >= 50 for d in days)
    options = []
    for category in s.pref("navigation.attraction_categories", [OMIT]):
        options += s.call("find_attractions", city=s.user.city, category=category)
    if stormy:
        options.sort(key=lambda a: not a["indoor"])
    food = find_places(s, s.user.city, day(1, "19:00"))[0]
    gear = s.pref("weather.rain_gear", "umbrella")
    weather = (f" ({days[0]['condition']}, {days[0]['precipitation_chance']}% rain"
               + (f" - bring your {gear})" if stormy else ")")) if days else ""
    plans = f" around your plans ({', '.join(e['title'] for e in events)})," if events else ""
    s.say(f"Saturday{s.offer(weather)}:{s.offer(plans)} visit {options[0]['name']}"
          + (f" and {options[1]['name']}" if len(options) > 1 else "")
          + f", then dinner at {food['name']} ({food['cuisine']})."
          + (s.offer(" Indoor places first because of the storm.") if stormy else ""))


@task("nav-flight-07", "Check flights to San Diego on Monday and book the one that suits me.", at=day(0, "14:00"),
      location="Office", apps=["navigation", "calendar"],
      tools=["view_events_in_calendar_by_providing_time_range", "find_flight", "book_flight"], keypoints=[
          personal("Book the user's usual travel class.", SEAT_OK),
          personal("Fly at the user's preferred time of day.", DAYPART_OK),
          proactive("Check Monday's calendar before booking, and name an event the flight (and getting to the "
                    "airport two hours before) conflicts with.",
                    looked_first("view_events_in_calendar_by_providing_time_range", "book_flight", names_event(
                        sql(BOOKED_FLIGHT.format("strftime('%Y-%m-%d %H:%M:%S', f.departure_time, '-120 minutes')")),
                        sql(BOOKED_FLIGHT.format("f.arrival_time"))))),
          proactive("Offer to reschedule the conflicting events."),
      ])
def monday_flight(s: Session) -> None:
    events = s.look("view_events_in_calendar_by_providing_time_range", [], start_time=day(3), end_time=day(3))
    flight = book_flight_on(s, "San Diego", day(3))
    clash = [e["title"] for e in events if e["start_time"] < flight["arrival_time"]
             and e["end_time"] > plus_minutes(flight["departure_time"], -120)]
    s.say(f"Booked {flight['flight_number']} on Monday, departing {flight['departure_time'][11:16]}, arriving "
          f"{flight['arrival_time'][11:16]}, {flight['seat_class'].replace('_', ' ')} (${flight['total_price']}). "
          + s.offer(f"It clashes with {', '.join(clash)} - shall I move those?" if clash else "No calendar conflicts."))


@task("nav-group-08", "Find a place for me and three friends in Nashville for two nights from next Friday, and book it.",
      at=day(0, "21:00"), location="Home", apps=["navigation", "calendar"],
      tools=["view_events_in_calendar_by_providing_time_range", "find_accommodations", "book_accommodation",
             "add_event_in_calendar"],
      keypoints=[
          personal("Book the user's preferred type of accommodation.", STAY_TYPE_OK),
          personal("Keep within the user's nightly budget.", STAY_PRICE_OK),
          proactive("Check next weekend's calendar and block the trip in it (from Friday to Sunday).",
                    looked_first("view_events_in_calendar_by_providing_time_range", "add_event_in_calendar",
                                 row("events", "inserted", start_time=("startswith", day(7)),
                                     end_time=("startswith", day(9))))),
          proactive("Offer to email the friends the details and split the cost."),
      ])
def group_trip(s: Session) -> None:
    events = s.look("view_events_in_calendar_by_providing_time_range", [], start_time=day(7), end_time=day(9))
    stay = book_stay(s, "Nashville", day(7), 2, 4)
    s.extra("add_event_in_calendar", title=f"Nashville trip - {stay['name']}", start_time=day(7, "15:00"),
            end_time=day(9, "11:00"), location=stay["address"])
    clash = f" Heads-up: you have {', '.join(e['title'] for e in events)} that weekend." if events else ""
    s.say(f"Booked {stay['name']} ({stay['type']}, sleeps {stay['max_guests']}) from {day(7)} for 2 nights, "
          f"${stay['total_price']:.0f} in total (${stay['total_price'] / 4:.0f} each)."
          + s.offer(" I blocked Friday to Sunday in your calendar." + clash) + s.offer(" Shall I email your friends?"))
