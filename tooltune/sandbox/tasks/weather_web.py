"""Weather and web instructions."""

from __future__ import annotations

from tooltune.sandbox.session import Session
from tooltune.sandbox.tasks.base import (
    UNIT_SYMBOL, all_of, answer, any_of, arg, count, day, looked_first, names_event, personal, pref, proactive, sql,
    task, temperature,
)

HOME_WEATHER = {"persona": "location"}


def _forecast(s: Session, days: list[dict]) -> str:
    unit = s.pref("weather.unit", "celsius")
    return "; ".join(f"{d['date']}: {d['condition']}, {temperature(d['temp_min'], unit)}-"
                     f"{temperature(d['temp_max'], unit)}, {d['precipitation_chance']}% rain" for d in days)


def _rain_advice(s: Session, days: list[dict]) -> str:
    if any(d["precipitation_chance"] >= 50 for d in days):
        return s.offer(f" Rain is likely - take your {s.pref('weather.rain_gear', 'umbrella')}.")
    return ""


@task("weather-today-01", "What's the weather like today?", at=day(0, "07:15"), location="Home",
      apps=["weather", "calendar"], tools=["get_today_weather", "view_today_events_in_calendar"], keypoints=[
          personal("Check the weather of the user's city.", arg("get_today_weather", "location", "equals", HOME_WEATHER)),
          personal("Give temperatures in the user's preferred unit.", answer("contains", UNIT_SYMBOL)),
          proactive("Check today's plans and name the first one, with what the weather means for it.",
                    names_event(day(0, "07:15"), day(1))),
          proactive("Suggest what to wear given how cold the user finds it."),
      ])
def weather_today(s: Session) -> None:
    weather = s.call("get_today_weather", location=s.user.city)
    events = [e for e in s.look("view_today_events_in_calendar", []) if e["end_time"] > day(0, "07:15")]
    cold = weather["temp_min"] < s.pref("weather.cold_below", 12)
    s.say(f"Today in {s.user.city}: {_forecast(s, [weather])}, wind {weather['wind_kph']} km/h, UV "
          f"{weather['uv_index']}."
          + s.offer(f" {'Bring a warm layer for the cooler hours.' if cold else 'A light outfit will do.'}")
          + (s.offer(f" Good weather for \"{events[0]['title']}\" at {events[0]['start_time'][11:16]}.")
             if events else ""))


@task("weather-weekend-02", "Will the weather be okay for my plans this weekend?", at=day(0, "18:00"),
      location="Home", apps=["weather", "calendar"],
      tools=["get_future_weather", "view_events_in_calendar_by_providing_time_range"], keypoints=[
          personal("Check the forecast for the user's city.", arg("get_future_weather", "location", "equals", HOME_WEATHER)),
          personal("Give temperatures in the user's preferred unit.", answer("contains", UNIT_SYMBOL)),
          proactive("Saturday's storm: tell the user to bring their usual rain gear.",
                    answer("contains", pref("weather.rain_gear"))),
          proactive("Offer to move a Saturday plan to dry Sunday, naming it.",
                    any_of(count("events", "equals", 0, start_time=("startswith", day(1))),
                           all_of(answer("contains", "sunday"), answer("contains", sql(
                               "SELECT title FROM events WHERE start_time LIKE :day || '%' ORDER BY id LIMIT 1",
                               day=day(1)))))),
      ])
def weekend_weather(s: Session) -> None:
    days = s.call("get_future_weather", location=s.user.city, start_time=day(1), end_time=day(2))
    events = s.call("view_events_in_calendar_by_providing_time_range", start_time=day(1), end_time=day(2))
    plans = ", ".join(f"{e['title']} ({e['start_time'][:16]})" for e in events) or "nothing planned"
    saturday = [e for e in events if e["start_time"].startswith(day(1))]
    s.say(f"Weekend forecast: {_forecast(s, days)}. Your plans: {plans}.{_rain_advice(s, days)}"
          + (s.offer(f" Shall I move \"{saturday[0]['title']}\" to Sunday, which looks dry, or find an indoor "
                     "alternative?") if saturday else ""))


@task("weather-pack-03", "What should I pack for Nashville next Monday and Tuesday?", at=day(0, "20:00"),
      location="Home", apps=["weather", "calendar"],
      tools=["get_future_weather", "view_events_in_calendar_by_providing_time_range"], keypoints=[
          personal("Give temperatures in the user's preferred unit.", answer("contains", UNIT_SYMBOL)),
          personal("Tailor clothing to how cold the user finds it."),
          proactive("The forecast shows a high UV index (6 or more): recommend sun protection.",
                    any_of(count("weather", "equals", 0, city=("equals", "Nashville"), date=("in", [day(3), day(4)]),
                                 uv_index=("gte", 6)),
                           answer("contains_any", ["sunscreen", "sun cream", "spf", "sun protection"]))),
          proactive("Check the calendar for those days and name a commitment the trip affects.",
                    names_event(day(3), day(5))),
      ])
def packing(s: Session) -> None:
    days = s.call("get_future_weather", location="Nashville", start_time=day(3), end_time=day(4))
    cold = min(d["temp_min"] for d in days) < s.pref("weather.cold_below", 12)
    sunny = max(d["uv_index"] for d in days) >= 6
    events = s.look("view_events_in_calendar_by_providing_time_range", [], start_time=day(3), end_time=day(4))
    s.say(f"Nashville: {_forecast(s, days)}. Pack light clothes{', plus a warm layer for the evenings' if cold else ''}"
          f".{_rain_advice(s, days)}" + (s.offer(" The UV index gets high, so pack sunscreen.") if sunny else "")
          + (s.offer(f" While you're away you'd miss \"{events[0]['title']}\" ({events[0]['start_time'][:16]}) - "
                     "shall I move it?") if events else ""))


@task("weather-rain-04", "Is it going to rain tomorrow?", at=day(0, "21:00"), location="Home",
      apps=["weather", "calendar"], tools=["get_future_weather", "view_events_in_calendar_by_providing_time_range"],
      keypoints=[
          personal("Check the forecast for the user's city.", arg("get_future_weather", "location", "equals", HOME_WEATHER)),
          proactive("Check tomorrow's plans and name the one the rain could affect.", names_event(day(1), day(2))),
          proactive("Remind the user to bring their usual rain gear.", answer("contains", pref("weather.rain_gear"))),
      ])
def rain_tomorrow(s: Session) -> None:
    days = s.call("get_future_weather", location=s.user.city, start_time=day(1), end_time=day(1))
    events = s.look("view_events_in_calendar_by_providing_time_range", [], start_time=day(1), end_time=day(1))
    plans = ", ".join(e["title"] for e in events)
    s.say(f"Yes: {_forecast(s, days)}.{_rain_advice(s, days)}"
          + (s.offer(f" Tomorrow you have {plans}; consider indoor options.") if plans else ""))


@task("web-news-01", "Any news today?", at=day(0, "08:00"), location="Home", apps=["web"],
      tools=["search_news_by_category", "search_heat_news"], keypoints=[
          personal("Pick the news categories the user follows.",
                   arg("search_news_by_category", "category", "in", pref("web.news_categories"))),
          personal("Show as many articles as the user likes to read.",
                   arg("search_news_by_category", "limit", "equals", pref("web.news_count"))),
          proactive("Also look at what is trending and mention the top story.",
                    answer("contains", sql("SELECT title FROM news WHERE published_at <= :now AND published_at >= "
                                           "strftime('%Y-%m-%d 00:00:00', :now) ORDER BY popularity DESC LIMIT 1"))),
          proactive("Offer to read an article in full or follow a story."),
      ])
def news_today(s: Session) -> None:
    count = s.pref("web.news_count", 5)
    lines = []
    for category in s.pref("web.news_categories", ["technology"]):
        articles = s.call("search_news_by_category", category=category, limit=count)
        lines.append(f"{category}: " + "; ".join(a["title"] for a in articles))
    hot = s.look("search_heat_news", [], limit=3)
    s.say("Your news: " + " | ".join(lines) + "." + (s.offer(f" Trending: {hot[0]['title']}.") if hot else "")
          + s.offer(" Want me to go deeper into any story?"))


@task("web-books-02", "Recommend some recent popular books.", at=day(0, "19:00"), location="Home",
      apps=["web", "shopping"], tools=["search_news_by_category", "search_products_in_shopping_manager"], keypoints=[
          personal("Stay within the user's budget per item.",
                   arg("search_products_in_shopping_manager", "max_price", "lte", pref("shopping.budget_per_item"))),
          personal("Match the recommendations to the user's interests."),
          proactive("Check the culture news for what's popular and mention the book story.",
                    looked_first("search_news_by_category", "search_products_in_shopping_manager", answer(
                        "contains_any", sql("SELECT title FROM news WHERE category = 'culture' "
                                            "AND published_at <= :now AND lower(title) LIKE '%book%'", many=True)))),
          proactive("Offer to add a book to the cart."),
      ])
def books(s: Session) -> None:
    news = s.look("search_news_by_category", [], category="culture", limit=5)
    found = s.call("search_products_in_shopping_manager", query="popular novel book", category="Books",
                   max_price=s.pref("shopping.budget_per_item", 100))
    picks = ", ".join(f"{p['title']} (${p['price']})" for p in found[:3])
    buzz = next((n["title"] for n in news if "book" in n["title"].lower()), news[0]["title"] if news else "")
    s.say(f"Popular right now: {picks}." + (s.offer(f" In the news: \"{buzz}\".") if buzz else "")
          + s.offer(" Shall I add one to your cart?"))


@task("web-wiki-03", "Tell me something interesting about one of my hobbies.", at=day(0, "21:00"), location="Home",
      apps=["web"], tools=["search_from_wikipedia"], keypoints=[
          personal("Look up one of the topics the user is into.",
                   arg("search_from_wikipedia", "query", "contains_any", pref("web.topics"))),
          proactive("Suggest a related activity or event to try."),
      ])
def hobby_fact(s: Session) -> None:
    topic = s.pref("web.topics", ["hobbies"])[0]
    articles = s.call("search_from_wikipedia", query=topic, topk=2)
    fact = articles[0]["content"] if articles else "I could not find an article."
    s.say(f"About {topic}: {fact} Want ideas for trying something new around it this weekend?")


@task("web-field-04", "What's new in the field I care about most?", at=day(0, "12:30"), location="Office",
      apps=["web"], tools=["search_news_by_category", "search_from_wikipedia"], keypoints=[
          personal("Use the user's first news category.",
                   arg("search_news_by_category", "category", "equals", pref("web.news_categories.0"))),
          personal("Show as many articles as the user likes to read.",
                   arg("search_news_by_category", "limit", "equals", pref("web.news_count"))),
          proactive("Offer background or a deeper summary of a story."),
      ])
def field_news(s: Session) -> None:
    category = s.pref("web.news_categories", ["technology"])[0]
    articles = s.call("search_news_by_category", category=category, limit=s.pref("web.news_count", 5))
    s.say(f"Latest in {category}: " + "; ".join(f"{a['title']} - {a['summary']}" for a in articles)
          + " Want background on any of these?")
