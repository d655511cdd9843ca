"""Instructions that span several apps."""

from __future__ import annotations

from tooltune.sandbox.session import OMIT, Session
from tooltune.sandbox.tasks.base import (
    DINNER_TIMES, REMINDER_OK, SIGNED, UNIT_SYMBOL, VOLUME_OK, add_event, all_of, answer, arg, arg_row, day,
    email_person, free_slot, looked_first, names_event, personal, plus_minutes, pref, proactive, reservation_clear,
    sent_to, sql, task, temperature,
)
from tooltune.sandbox.tasks.music import MOOD_NAMED, RELAX_GENRE, play_relaxing
from tooltune.sandbox.tasks.navigation import CUISINE_OK, PRICE_OK, find_places
from tooltune.sandbox.tasks.smart_home import DIMMED, TEMP_OK, lights_on, set_climate


@task("multi-tired-01", "I'm tired. Change the music and adjust the temperature at home.", at=day(0, "20:00"),
      location="Home", apps=["music", "smart_home", "health"],
      tools=["get_current_health_and_mood_status", "search_music", "play_music", "set_temperature_and_humidity_in_home",
             "control_light_in_home"],
      keypoints=[
          personal("Switch to the genre the user relaxes to.", RELAX_GENRE),
          personal("Keep the volume in the user's preferred range.", VOLUME_OK),
          personal("Set the user's preferred temperature.", TEMP_OK),
          proactive("Check how the user is doing (health and mood) and refer to it.", MOOD_NAMED),
          proactive("Switch to a calmer, dimmed light in the user's colour.",
                    all_of(DIMMED, arg("control_light_in_home", "color", "equals", pref("smart_home.light_color")))),
          proactive("Suggest an early night or a short rest."),
      ])
def tired(s: Session) -> None:
    status = s.look("get_current_health_and_mood_status", None)
    track, volume = play_relaxing(s)
    target = set_climate(s)
    if s.proactive:
        lights_on(s, "living room", max(10, s.pref("smart_home.light_brightness") // 2))
    s.say(f"Playing \"{track['title']}\" by {track['artist']} quietly (volume {volume}) and the thermostat is set to "
          f"{target['target_temperature']}°C." + s.offer(" I dimmed the living room lights too.")
          + (s.offer(f" You're feeling {status['mood']} and your stress level reads {status['stress_level']}/5 - an "
                     "early night would do you good.") if status else ""))


@task("multi-birthday-02", "Help me plan a birthday dinner for my family member next Wednesday: book a restaurant and email them.",
      at=day(0, "18:00"), location="Home", apps=["navigation", "email", "calendar"],
      tools=["view_events_in_calendar_by_providing_time_range", "find_restaurants", "reserve_restaurant",
             "add_event_in_calendar", "send_email"], keypoints=[
          personal("Choose a cuisine the user likes.", CUISINE_OK),
          personal("Stay within the user's restaurant budget.", PRICE_OK),
          personal("Email the family member from the user's contacts.", sent_to("family")),
          personal("Set the user's usual event reminder.", REMINDER_OK),
          proactive("Check Wednesday evening before booking, and book a time that is free.",
                    looked_first("view_events_in_calendar_by_providing_time_range", "reserve_restaurant",
                                 reservation_clear(120))),
          proactive("Suggest a cake or a small gift."),
      ])
def birthday(s: Session) -> None:
    events = s.look("view_events_in_calendar_by_providing_time_range", [], start_time=day(5), end_time=day(5))
    start = free_slot(events, day(5), DINNER_TIMES, 120)
    place = find_places(s, s.user.city, start)[0]
    s.call("reserve_restaurant", restaurant_id=place["id"], reservation_time=start, party_size=2)
    family = s.contact("family")
    add_event(s, f"Birthday dinner with {family['name']}", start, 120, place["address"])
    email_person(s, family, "Birthday dinner on Wednesday",
                 f"Let's celebrate! I booked {place['name']} ({place['address']}) on Wednesday at {start[11:16]}.")
    s.say(f"Booked {place['name']} ({place['cuisine']}) for Wednesday {start[11:16]}, added it to your calendar and "
          f"emailed {family['name']}." + s.offer(" Want me to order a cake or find a small gift?"))


@task("multi-briefing-03", "Give me a morning briefing.", at=day(0, "07:00"), location="Home",
      apps=["weather", "calendar", "email", "web"],
      tools=["get_today_weather", "view_today_events_in_calendar", "get_today_emails_until_now", "search_news_by_category"],
      keypoints=[
          personal("Weather for the user's city.", arg("get_today_weather", "location", "equals", {"persona": "location"})),
          personal("News from the categories the user follows.",
                   arg("search_news_by_category", "category", "in", pref("web.news_categories"))),
          personal("Temperatures in the user's preferred unit.", answer("contains", UNIT_SYMBOL)),
          proactive("Check the calendar and name the day's first event.", names_event(day(0, "07:00"), day(1))),
          proactive("Check new mail and name the latest one (its subject).",
                    answer("contains", sql("SELECT subject FROM emails WHERE folder = 'inbox' AND timestamp "
                                           "BETWEEN :day AND :now ORDER BY timestamp DESC LIMIT 1", day=day(0)))),
      ])
def briefing(s: Session) -> None:
    weather = s.call("get_today_weather", location=s.user.city)
    events = [e for e in s.look("view_today_events_in_calendar", []) if e["end_time"] > day(0, "07:00")]
    mails = [m for m in s.look("get_today_emails_until_now", []) if m["folder"] == "inbox"]
    category = s.pref("web.news_categories", ["technology"])[0]
    news = s.call("search_news_by_category", category=category, limit=s.pref("web.news_count", 5))
    unit = s.pref("weather.unit", "celsius")
    agenda = "; ".join(f"{e['start_time'][11:16]} {e['title']}" for e in events)
    latest = max(mails, key=lambda m: m["timestamp"]) if mails else None
    s.say(f"Good morning! Weather: {weather['condition']}, {temperature(weather['temp_min'], unit)} to "
          f"{temperature(weather['temp_max'], unit)}." + (s.offer(f" Today: {agenda}.") if agenda else "")
          + (s.offer(f" {len(mails)} new email(s), the latest \"{latest['subject']}\" from {latest['sender']}.")
             if latest else "")
          + f" Top {category} story: {news[0]['title'] if news else 'none'}.")


@task("multi-forecast-email-04", "Email my family the weather forecast for the weekend.", at=day(0, "16:00"),
      location="Office", apps=["weather", "email"], tools=["get_future_weather", "send_email"], keypoints=[
          personal("Forecast for the user's city.", arg("get_future_weather", "location", "equals", {"persona": "location"})),
          personal("Send it to the family member in the user's contacts.", sent_to("family")),
          personal("Sign the email the way the user does.", SIGNED),
          proactive("Warn about Saturday's storm in the email and advise what to do (indoor plans, rain gear).",
                    arg("send_email", "content", "contains_any", ["indoor", "umbrella", "rain gear", "raincoat",
                                                                  "rain jacket"])),
      ])
def forecast_email(s: Session) -> None:
    days = s.call("get_future_weather", location=s.user.city, start_time=day(1), end_time=day(2))
    unit = s.pref("weather.unit", "celsius")
    family = s.contact("family")
    lines = "\n".join(f"- {d['date']}: {d['condition']}, {temperature(d['temp_min'], unit)} to "
                      f"{temperature(d['temp_max'], unit)}, {d['precipitation_chance']}% chance of rain" for d in days)
    stormy = [d for d in days if d["precipitation_chance"] >= 50]
    advice = s.offer("\nSaturday looks stormy - plan indoor things and take rain gear.") if stormy else ""
    email_person(s, family, "Weekend weather", f"Here's the weekend forecast:\n{lines}{advice}")
    s.say(f"Sent {family['name']} the weekend forecast for {s.user.city}"
          + (s.offer(", with a warning about Saturday's rain") if stormy else "") + ".")


@task("multi-workout-music-05", "I'm starting my workout now - play something energetic and tell me when to stop.",
      at=day(0, "17:00"), location="Home", apps=["music", "calendar", "health"],
      tools=["search_music", "play_music", "add_alarm"], keypoints=[
          personal("Play one of the user's favourite genres.",
                   arg_row("play_music", "music_name", "tracks", "genre", "in", pref("music.genres"), key="title")),
          personal("Keep the volume in the user's preferred range.", VOLUME_OK),
          personal("Time the workout to the user's usual maximum length.",
                   arg("add_alarm", "alarm_time", "equals", {
                       "sql": "SELECT strftime('%Y-%m-%d %H:%M:%S', :now, '+' || :m || ' minutes')",
                       "params": {"m": pref("health.workout_minutes.1")}})),
          proactive("Remind the user to hydrate and cool down."),
      ])
def workout_music(s: Session) -> None:
    genre = s.pref("music.genres", [OMIT])[0]
    tracks = s.call("search_music", genre=genre)
    track = next((t for t in tracks if t["mood"] in ("energetic", "upbeat", "intense", "bright")), tracks[0])
    volume = s.pref("music.volume_range", [50, 50])[1]
    s.call("play_music", music_name=track["title"], volume_level=volume)
    minutes = s.pref("health.workout_minutes", [30, 45])[1]
    end = plus_minutes(day(0, "17:00"), minutes)
    s.call("add_alarm", alarm_time=end, message="Workout done - cool down and stretch")
    s.say(f"Playing \"{track['title']}\" by {track['artist']} at volume {volume}. The alarm at {end[11:16]} marks "
          f"{minutes} minutes. Drink water and cool down afterwards.")
