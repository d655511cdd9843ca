"""Weather and web instructions."""

from __future__ import annotations

from tooltune.sandbox.reference import Session
from tooltune.sandbox.tasks.base import (
    UNIT_SYMBOL, answer, arg, called, day, personal, pref, proactive, task, temperature,
)

HOME_WEATHER = {"persona": "location"}


def _forecast(s: Session, days: list[dict]) -> str:
    unit = s.pref("weather.unit", "celsius")
    return "; ".join(f"{d['date']}: {d['condition']}, {temperature(d['temp_min'], unit)}-"
                     f"{temperature(d['temp_max'], unit)}, {d['precipitation_chance']}% rain" for d in days)


def _rain_advice(s: Session, days: list[dict]) -> str:
    if any(d["precipitation_chance"] >= 50 for d in days):
        return f" Rain is likely - take your {s.pref('weather.rain_gear', 'umbrella')}."
    return ""


@task("weather-today-01", "What's the weather like today?", at=day(0, "07:15"), location="Home",
      apps=["weather", "calendar"], tools=["get_today_weather", "view_today_events_in_calendar"], keypoints=[
          personal("Check the weather of the user's city.", arg("get_today_weather", "location", "equals", HOME_WEATHER)),
          personal("Give temperatures in the user's preferred unit.", answer("contains", UNIT_SYMBOL)),
          proactive("Check today's plans for outdoor activities.", called("view_today_events_in_calendar")),
          proactive("Suggest what to wear given how cold the user finds it."),
      ])
def weather_today(s: Session) -> None:
    weather = s.call("get_today_weather", location=s.user.city)
    events = s.call("view_today_events_in_calendar")
    cold = weather["temp_min"] < s.pref("weather.cold_below", 12)
    s.say(f"Today in {s.user.city}: {_forecast(s, [weather])}, wind {weather['wind_kph']} km/h, UV "
          f"{weather['uv_index']}. {'Bring a warm layer for the cooler hours.' if cold else 'A light outfit will do.'}"
          f" You have {len(events)} event(s) today.")


@task("weather-weekend-02", "Will the weather be okay for my plans this weekend?", at=day(0, "18:00"),
      location="Home", apps=["weather", "calendar"],
      tools=["get_future_weather", "view_events_in_calendar_by_providing_time_range"], keypoints=[
          personal("Check the forecast for the user's city.", arg("get_future_weather", "location", "equals", HOME_WEATHER)),
          personal("Give temperatures in the user's preferred unit.", answer("contains", UNIT_SYMBOL)),
          proactive("Look at the weekend's plans.", called("view_events_in_calendar_by_providing_time_range")),
          proactive("Saturday's storm: tell the user to bring their usual rain gear.",
                    answer("contains", pref("weather.rain_gear"))),
          proactive("Suggest moving outdoor plans or indoor alternatives."),
      ])
def weekend_weather(s: Session) -> None:
    days = s.call("get_future_weather", location=s.user.city, start_time=day(1), end_time=day(2))
    events = s.call("view_events_in_calendar_by_providing_time_range", start_time=day(1), end_time=day(2))
    plans = ", ".join(f"{e['title']} ({e['start_time'][:16]})" for e in events) or "nothing planned"
    s.say(f"Weekend forecast: {_forecast(s, days)}. Your plans: {plans}.{_rain_advice(s, days)} "
          "Outdoor plans on Saturday could move to Sunday or indoors.")


@task("weather-pack-03", "What should I pack for Nashville next Monday and Tuesday?", at=day(0, "20:00"),
      location="Home", apps=["weather"], tools=["get_future_weather"], keypoints=[
          personal("Give temperatures in the user's preferred unit.", answer("contains", UNIT_SYMBOL)),
          personal("Tailor clothing to how cold the user finds it."),
          proactive("Mention rain gear or sun protection as the forecast requires."),
      ])
def packing(s: Session) -> None:
    days = s.call("get_future_weather", location="Nashville", start_time=day(3), end_time=day(4))
    cold = min(d["temp_min"] for d in days) < s.pref("weather.cold_below", 12)
    s.say(f"Nashville: {_forecast(s, days)}. Pack light clothes{', plus a warm layer for the evenings' if cold else ''}"
          f".{_rain_advice(s, days)} Sunscreen helps if the UV is high.")


@task("weather-rain-04", "Is it going to rain tomorrow?", at=day(0, "21:00"), location="Home",
      apps=["weather", "calendar"], tools=["get_future_weather", "view_events_in_calendar_by_providing_time_range"],
      keypoints=[
          personal("Check the forecast for the user's city.", arg("get_future_weather", "location", "equals", HOME_WEATHER)),
          proactive("Check tomorrow's plans that the rain could affect.",
                    called("view_events_in_calendar_by_providing_time_range")),
          proactive("Remind the user to bring their usual rain gear.", answer("contains", pref("weather.rain_gear"))),
      ])
def rain_tomorrow(s: Session) -> None:
    days = s.call("get_future_weather", location=s.user.city, start_time=day(1), end_time=day(1))
    events = s.call("view_events_in_calendar_by_providing_time_range", start_time=day(1), end_time=day(1))
    plans = ", ".join(e["title"] for e in events) or "no plans"
    s.say(f"Yes: {_forecast(s, days)}.{_rain_advice(s, days)} Tomorrow you have {plans}; consider indoor options.")


@task("web-news-01", "Any news today?", at=day(0, "08:00"), location="Home", apps=["web"],
      tools=["search_news_by_category", "search_heat_news"], keypoints=[
          personal("Pick the news categories the user follows.",
                   arg("search_news_by_category", "category", "in", pref("web.news_categories"))),
          personal("Show as many articles as the user likes to read.",
                   arg("search_news_by_category", "limit", "equals", pref("web.news_count"))),
          proactive("Offer to read an article in full or follow a story."),
      ])
def news_today(s: Session) -> None:
    count = s.pref("web.news_count", 5)
    lines = []
    for category in s.pref("web.news_categories", ["technology"]):
        articles = s.call("search_news_by_category", category=category, limit=count)
        lines.append(f"{category}: " + "; ".join(a["title"] for a in articles))
    hot = s.call("search_heat_news", limit=3)
    s.say("Your news: " + " | ".join(lines) + f". Trending: {hot[0]['title'] if hot else 'nothing yet'}. "
          "Want me to go deeper into any story?")


@task("web-books-02", "Recommend some recent popular books.", at=day(0, "19:00"), location="Home",
      apps=["web", "shopping"], tools=["search_news_by_category", "search_products_in_shopping_manager"], keypoints=[
          personal("Stay within the user's budget per item.",
                   arg("search_products_in_shopping_manager", "max_price", "lte", pref("shopping.budget_per_item"))),
          personal("Match the recommendations to the user's interests."),
          proactive("Check book news for what's popular.", called("search_news_by_category")),
          proactive("Offer to add a book to the cart."),
      ])
def books(s: Session) -> None:
    news = s.call("search_news_by_category", category="culture", limit=5)
    found = s.call("search_products_in_shopping_manager", query="popular novel book", category="Books",
                   max_price=s.pref("shopping.budget_per_item", 100))
    picks = ", ".join(f"{p['title']} (${p['price']})" for p in found[:3])
    buzz = next((n["title"] for n in news if "book" in n["title"].lower()), news[0]["title"])
    s.say(f"Popular right now: {picks}. In the news: \"{buzz}\". Shall I add one to your cart?")


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
