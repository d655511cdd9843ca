"""Health instructions."""

from __future__ import annotations

from tooltune.sandbox.session import Session
from tooltune.sandbox.tasks.base import (
    CURRENT_HEALTH, NEWEST_EVENT, REMINDER_OK, WORKOUT_SLOTS, add_event, answer, any_of, arg, called, count, day,
    free_slot, looked_first, names_event, new_event_clear, personal, pref, proactive, spoken, sql, task,
)

LOW_ENERGY_SHORT = any_of(
    count("health_records", "equals", 1, timestamp=("equals", sql(CURRENT_HEALTH.format("timestamp"))),
          energy_level=("gte", 5)),
    arg("add_event_in_calendar", "end_time", "lte", sql(
        NEWEST_EVENT.format("strftime('%Y-%m-%d %H:%M:%S', start_time, '+' || :low || ' minutes')"),
        low=pref("health.workout_minutes.0"))))
"""Energy below 5/10 now: the planned workout is no longer than the user's shortest usual session."""
from tooltune.sandbox.tasks.smart_home import lights_on
from tooltune.sandbox.userdata import WORKOUT_HOURS


@task("health-status-01", "How am I doing health-wise lately? Any suggestions?", at=day(0, "20:00"), location="Home",
      apps=["health"], tools=["get_recent_health_and_mood_summary", "get_user_recent_workout_records",
                              "get_current_health_and_mood_status"], keypoints=[
          personal("Summarise the recent health and mood records.", called("get_recent_health_and_mood_summary")),
          personal("Look at the recent workouts.", called("get_user_recent_workout_records")),
          personal("Compare the steps with the user's own daily step goal.",
                   answer("contains", pref("health.daily_step_goal"))),
          proactive("Give concrete suggestions from the data (sleep, stress, activity) tied to the user's focus."),
      ])
def health_status(s: Session) -> None:
    summary = s.call("get_recent_health_and_mood_summary", time=day(-7))
    workouts = s.call("get_user_recent_workout_records", time=day(-7))
    s.call("get_current_health_and_mood_status")
    goal = s.pref("health.daily_step_goal", 10000)
    sleep_goal = s.pref("health.sleep_goal_hours", 8)
    steps = summary["average_daily_steps"]
    verdict = "above" if steps >= goal else "below"
    s.say(f"Over the last week you averaged {steps} steps a day, {verdict} your goal of {goal} steps; "
          f"{summary['average_sleep_hours']} h of sleep against your {sleep_goal} h target; average stress "
          f"{summary['average_stress_level']}/5, mostly {', '.join(summary['dominant_moods'])}. You did "
          f"{len(workouts)} workouts. Suggestion: "
          + ("go to bed a little earlier this week" if summary["average_sleep_hours"] < sleep_goal
             else "keep your sleep routine") + (" and add a short daily walk." if steps < goal else "."))


@task("health-plan-02", "Plan a workout for me today.", at=day(0, "08:00"), location="Home",
      apps=["health", "calendar"],
      tools=["get_current_health_and_mood_status", "get_user_recent_workout_records", "view_today_events_in_calendar",
             "add_event_in_calendar"], keypoints=[
          personal("Plan one of the user's preferred workout types.",
                   arg("add_event_in_calendar", "title", "contains_any", pref("health.workout_types"))),
          personal("Set the user's usual reminder.", REMINDER_OK),
          proactive("Check today's schedule first and book a time that clashes with nothing.",
                    looked_first("view_today_events_in_calendar", "add_event_in_calendar", new_event_clear())),
          proactive("Check the current energy first; on a low-energy day (below 5/10) keep the session short.",
                    looked_first("get_current_health_and_mood_status", "add_event_in_calendar", LOW_ENERGY_SHORT)),
          proactive("Suggest a warm-up and hydration tips."),
      ])
def plan_workout(s: Session) -> None:
    status = s.look("get_current_health_and_mood_status", None)
    recent = s.call("get_user_recent_workout_records", time=day(-7))
    events = s.look("view_today_events_in_calendar", [])
    types = s.pref("health.workout_types", ["workout"])
    done = [w["activity"] for w in recent]
    activity = min(types, key=lambda t: done.count(t))
    low, high = s.pref("health.workout_minutes", [45, 60])
    minutes = low if status and status["energy_level"] < 5 else (low + high) // 2
    usual = WORKOUT_HOURS.get(s.pref("health.workout_time", "morning"), "07:00")
    start = free_slot(events, day(0), (usual, *WORKOUT_SLOTS, "20:00", "21:00"), minutes, after=day(0, "08:00"))
    add_event(s, f"{activity.title()} workout", start, minutes)
    s.say((f"Your energy is {status['energy_level']}/10, so " if status else "") + f"I planned {minutes} minutes "
          f"of {activity} at {start[11:16]}" + s.offer(", between your other commitments") + "."
          + s.offer(" Warm up for 5-10 minutes and bring water."))


@task("health-log-03", "Log my usual workout from this morning, it was about 40 minutes.", at=day(0, "12:00"),
      location="Home", apps=["health"], tools=["add_workout_record", "get_user_recent_workout_records"], keypoints=[
          personal("Log the user's usual workout type.",
                   arg("add_workout_record", "activity", "contains", pref("health.workout_types.0"))),
          proactive("After logging, report the week's progress (how many workouts in the last 7 days).",
                    looked_first("add_workout_record", "get_user_recent_workout_records", answer("contains_any", spoken(
                        "SELECT count(*) FROM workouts WHERE start_time >= :since", " workouts", " sessions",
                        since=day(-7))))),
          proactive("Encourage the user and suggest stretching or recovery."),
      ])
def log_workout(s: Session) -> None:
    activity = s.pref("health.workout_types", ["workout"])[0]
    s.call("add_workout_record", activity=activity, start_time=day(0, "07:00"), duration_minutes=40)
    week = s.look("get_user_recent_workout_records", None, time=day(-7))
    s.say(f"Logged 40 minutes of {activity} this morning."
          + (s.offer(f" That's {len(week)} workouts in the last 7 days - nice consistency.") if week else "")
          + s.offer(" A few minutes of stretching will help recovery."))


@task("health-winddown-04", "Help me wind down for bed: a warm bath and soft lights.", at=day(0, "21:30"),
      location="Home", apps=["health", "smart_home", "calendar"],
      tools=["get_recent_health_and_mood_summary", "control_bathtub_in_home", "control_light_in_home",
             "view_events_in_calendar_by_providing_time_range"], keypoints=[
          personal("Fill the bath at the user's preferred temperature.",
                   arg("control_bathtub_in_home", "temperature", "equals", pref("smart_home.bath_temperature"))),
          personal("Fill the bath to the user's preferred level.",
                   arg("control_bathtub_in_home", "water_level", "equals", pref("smart_home.bath_water_level"))),
          personal("Use the user's preferred light colour.",
                   arg("control_light_in_home", "color", "equals", pref("smart_home.light_color"))),
          proactive("Check tomorrow's calendar and name the first commitment, to suggest a bedtime.",
                    names_event(day(1), day(2))),
          proactive("Look at recent sleep and suggest avoiding screens and caffeine before bed."),
      ])
def wind_down(s: Session) -> None:
    summary = s.look("get_recent_health_and_mood_summary", None, time=day(-3))
    tomorrow = s.look("view_events_in_calendar_by_providing_time_range", [], start_time=day(1), end_time=day(1))
    temperature = s.pref("smart_home.bath_temperature", 40.0)
    level = s.pref("smart_home.bath_water_level", 80)
    s.call("control_bathtub_in_home", fill=True, water_level=level, temperature=temperature, keep_temperature=True)
    brightness = max(10, s.pref("smart_home.light_brightness", 60) // 2)
    lights_on(s, "bedroom", brightness)
    first = (f" Tomorrow starts with \"{tomorrow[0]['title']}\" at {tomorrow[0]['start_time'][11:16]}, so aim to be "
             "in bed in good time." if tomorrow else " Tomorrow's calendar is free, so you can sleep in.")
    s.say(f"The bath is filling to {level}% at {temperature}°C and will stay warm; the bedroom lights are soft at "
          f"{brightness}%." + s.offer(first)
          + (s.offer(f" You've averaged {summary['average_sleep_hours']} h of sleep lately - put screens away and "
                     "skip caffeine tonight.") if summary else ""))


@task("health-outdoor-05", "Should I work out outside this evening?", at=day(0, "16:00"), location="Home",
      apps=["health", "weather", "calendar"],
      tools=["get_today_weather", "get_current_health_and_mood_status", "view_today_events_in_calendar"], keypoints=[
          personal("Check the weather where the user lives.",
                   arg("get_today_weather", "location", "equals", {"persona": "location"})),
          personal("Consider the current health and energy.", called("get_current_health_and_mood_status")),
          personal("Suggest one of the user's preferred workout types."),
          proactive("Check this evening's schedule and name what is already planned.",
                    names_event(day(0, "16:00"), day(1))),
          proactive("Suggest an indoor alternative or the right clothing for the conditions."),
      ])
def outdoor_workout(s: Session) -> None:
    weather = s.call("get_today_weather", location=s.user.city)
    status = s.call("get_current_health_and_mood_status")
    events = [e for e in s.look("view_today_events_in_calendar", []) if e["end_time"] > day(0, "16:00")]
    good = weather["precipitation_chance"] < 50 and status["energy_level"] >= 4
    activity = s.pref("health.workout_types", ["a workout"])[0]
    busy = f" Keep {', '.join(e['title'] for e in events)} in mind." if events else ""
    s.say(("Yes - " if good else "Better not - ") + f"today is {weather['condition']} with a "
          f"{weather['precipitation_chance']}% chance of rain and your energy is {status['energy_level']}/10. "
          f"{'Go for ' + activity + ' outside' if good else 'Do ' + activity + ' indoors instead'}." + s.offer(busy))
