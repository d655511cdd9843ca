"""Calendar instructions."""

from __future__ import annotations

from tooltune.sandbox.session import Session
from tooltune.sandbox.tasks.base import (
    CURRENT_HEALTH, REMINDER_OK, SIGNED, WORKOUT_SLOTS, add_event, answer, arg, called, day, email_person,
    free_slot, looked_first, names_event, new_event_clear, personal, plus_minutes, pref, proactive, sent_to, spoken,
    sql, task,
)
from tooltune.sandbox.userdata import WORKOUT_HOURS

NEXT_SESSION = "SELECT {} FROM events WHERE title LIKE '% session' AND start_time > :now ORDER BY start_time LIMIT 1"
NEXT_WORKOUT_ALARM = sql(NEXT_SESSION.format("strftime('%Y-%m-%d %H:%M:%S', start_time, '-' || :m || ' minutes')"),
                         m=pref("calendar.reminder_minutes"))
SESSION_END = sql(NEXT_SESSION.format("end_time"))
AFTER_SESSION = sql(NEXT_SESSION.format("date(start_time, '+1 day')"))


def _listing(events: list[dict]) -> str:
    return "; ".join(f"{e['start_time'][11:16]}-{e['end_time'][11:16]} {e['title']}" for e in events) or "nothing"


@task("cal-today-01", "What is on my schedule today?", at=day(0, "07:45"), location="Home", apps=["calendar"],
      tools=["view_today_events_in_calendar", "view_today_alarms"], keypoints=[
          personal("Retrieve today's events from the calendar.", called("view_today_events_in_calendar")),
          personal("Present the events with the user's usual reminder lead time in mind."),
          proactive("Also check today's alarms and give their times.",
                    answer("contains", sql("SELECT substr(alarm_time, 12, 5) FROM alarms WHERE alarm_time "
                                           "BETWEEN :day AND :next ORDER BY alarm_time LIMIT 1",
                                           day=day(0), next=day(1)))),
          proactive("Point out free slots and how to prepare for the first event."),
      ])
def today(s: Session) -> None:
    events = s.call("view_today_events_in_calendar")
    alarms = s.look("view_today_alarms", [])
    lead = s.pref("calendar.reminder_minutes", 30)
    upcoming = [e for e in events if e["end_time"] > str(s.now)]
    alarm_text = ", ".join(a["alarm_time"][11:16] for a in alarms) or "none"
    first = f" I'll remind you {lead} minutes before \"{upcoming[0]['title']}\"." if upcoming else ""
    s.say(f"Today: {_listing(events)}." + s.offer(f" Alarms: {alarm_text}.") + first
          + s.offer(" Anything outside these is free time."))


@task("cal-add-02", "Add a dentist appointment next Monday at 7 am.", at=day(0, "12:00"), location="Office",
      apps=["calendar"], tools=["view_events_in_calendar_by_providing_time_range", "add_event_in_calendar"], keypoints=[
          personal("Set the reminder the user usually wants.", REMINDER_OK),
          personal("Use a clear title and a realistic duration."),
          proactive("Check Monday for conflicts before adding, and name any event the appointment overlaps.",
                    looked_first("view_events_in_calendar_by_providing_time_range", "add_event_in_calendar",
                                 names_event(day(3, "07:00"), day(3, "08:00")))),
          proactive("Offer an alarm to leave on time."),
      ])
def dentist(s: Session) -> None:
    events = s.look("view_events_in_calendar_by_providing_time_range", [], start_time=day(3), end_time=day(3))
    start, end = day(3, "07:00"), day(3, "08:00")
    clash = [e["title"] for e in events if e["start_time"] < end and e["end_time"] > start]
    add_event(s, "Dentist appointment", start, 60)
    note = f" Heads-up: it overlaps {', '.join(clash)} - shall I move that?" if clash else \
        " Nothing else is planned then."
    s.say(f"Added \"Dentist appointment\" on Monday {day(3)} 07:00-08:00 with your usual reminder."
          + s.offer(note) + s.offer(" Want an alarm for when to leave?"))


@task("cal-meet-03", "Set up a one-hour call with my colleague on Monday morning and email them about it.",
      at=day(0, "16:00"), location="Office", apps=["calendar", "email"],
      tools=["view_events_in_calendar_by_providing_time_range", "add_event_in_calendar", "send_email"], keypoints=[
          personal("Email the user's colleague from their common contacts.", sent_to("colleague")),
          personal("Set the user's usual event reminder.", REMINDER_OK),
          personal("Sign the email the way the user does.", SIGNED),
          proactive("Check Monday morning before booking, and book a slot that clashes with nothing.",
                    looked_first("view_events_in_calendar_by_providing_time_range", "add_event_in_calendar",
                                 new_event_clear())),
          proactive("Offer to add an agenda or a video link."),
      ])
def colleague_call(s: Session) -> None:
    colleague = s.contact("colleague")
    events = s.look("view_events_in_calendar_by_providing_time_range", [], start_time=day(3), end_time=day(3))
    start = free_slot(events, day(3), ("09:00", "09:30", "10:00", "10:30", "11:00"), 60) or day(3, "09:00")
    end = plus_minutes(start, 60)
    add_event(s, f"Call with {colleague['name']}", start, 60)
    email_person(s, colleague, "Call on Monday morning",
                 f"Could we have a one-hour call on Monday at {start[11:16]}? I've put it in my calendar.")
    s.say(f"Booked \"Call with {colleague['name']}\" on Monday {start[11:16]}-{end[11:16]}"
          + s.offer(" (the first free hour)") + f" and emailed {colleague['email']}."
          + s.offer(" Shall I add an agenda?"))


@task("cal-sick-04", "I'm sick today. Clear the rest of my calendar for today and let my colleague know.",
      at=day(0, "08:30"), location="Home", apps=["calendar", "email", "health"],
      tools=["view_today_events_in_calendar", "delete_event_in_calendar", "send_email",
             "get_current_health_and_mood_status"], keypoints=[
          personal("Tell the user's colleague from their common contacts.", sent_to("colleague")),
          personal("Sign the email the way the user does.", SIGNED),
          proactive("Look at the current health readings and pass on what they show (heart rate, sleep).",
                    answer("contains_any", spoken(CURRENT_HEALTH.format("heart_rate"), " bpm", " beats"))),
          proactive("Wish a quick recovery and suggest rest."),
      ])
def sick_day(s: Session) -> None:
    events = [e for e in s.call("view_today_events_in_calendar") if e["end_time"] > day(0, "08:30")]
    for event in events:
        s.call("delete_event_in_calendar", event_id=event["id"])
    colleague = s.contact("colleague")
    titles = ", ".join(e["title"] for e in events) or "nothing scheduled"
    email_person(s, colleague, "Out sick today",
                 f"I'm sick today and have cancelled: {titles}. I'll be back in touch as soon as I'm better.")
    status = s.look("get_current_health_and_mood_status", None)
    s.say(f"I cancelled {len(events)} event(s) ({titles}) and let {colleague['name']} know."
          + (s.offer(f" Your heart rate is {status['heart_rate']} bpm and you slept {status['sleep_hours']} h last "
                     "night - see a doctor if you get a fever or it keeps climbing.") if status else "")
          + s.offer(" Rest up and drink plenty of fluids."))


@task("cal-alarm-05", "Set an alarm for my next workout session.", at=day(0, "20:00"), location="Home",
      apps=["calendar"], tools=["view_events_in_calendar_by_providing_time_range", "add_alarm"], keypoints=[
          personal("Ring the user's usual reminder lead time before the workout.",
                   arg("add_alarm", "alarm_time", "equals", NEXT_WORKOUT_ALARM)),
          proactive("Point out what comes right after the session that day, so the user can plan around it.",
                    names_event(SESSION_END, AFTER_SESSION)),
          proactive("Suggest getting gear and water ready the night before."),
      ])
def workout_alarm(s: Session) -> None:
    events = s.call("view_events_in_calendar_by_providing_time_range", start_time=day(0, "20:00"), end_time=day(7))
    session = next(e for e in events if e["title"].endswith(" session"))
    lead = s.pref("calendar.reminder_minutes", 30)
    when = plus_minutes(session["start_time"], -lead)
    s.call("add_alarm", alarm_time=when, message=f"{session['title']} in {lead} minutes")
    after = [e for e in events
             if e["start_time"] >= session["end_time"] and e["start_time"][:10] == session["start_time"][:10]]
    s.say(f"Your next workout is \"{session['title']}\" on {session['start_time'][:16]}. The alarm rings at "
          f"{when[:16]}, {lead} minutes before."
          + (s.offer(f" Right after it you have \"{after[0]['title']}\" at {after[0]['start_time'][11:16]}, so keep "
                     "an eye on the time.") if after else "")
          + s.offer(" Lay out your gear and fill a water bottle the night before."))


@task("cal-plan-06", "Block time for a workout on Sunday that fits my routine.", at=day(0, "18:00"), location="Home",
      apps=["calendar", "health"],
      tools=["view_events_in_calendar_by_providing_time_range", "get_user_recent_workout_records",
             "add_event_in_calendar"], keypoints=[
          personal("Plan one of the user's preferred workout types.",
                   arg("add_event_in_calendar", "title", "contains_any", pref("health.workout_types"))),
          personal("Set the user's usual reminder.", REMINDER_OK),
          personal("Keep the duration within the user's usual workout length and preferred time of day."),
          proactive("Check Sunday's calendar before booking, and book a time that clashes with nothing.",
                    looked_first("view_events_in_calendar_by_providing_time_range", "add_event_in_calendar",
                                 new_event_clear())),
          proactive("Vary the workout: not the same activity as the most recent session.",
                    looked_first("get_user_recent_workout_records", "add_event_in_calendar", {
                        "type": "not", "check": arg("add_event_in_calendar", "title", "contains", sql(
                            "SELECT activity FROM workouts ORDER BY start_time DESC LIMIT 1"))})),
      ])
def sunday_workout(s: Session) -> None:
    events = s.look("view_events_in_calendar_by_providing_time_range", [], start_time=day(2), end_time=day(2))
    recent = s.look("get_user_recent_workout_records", [], time=day(-7))
    types = s.pref("health.workout_types", ["workout"])
    done = [w["activity"] for w in recent]  # newest first
    activity = min(types, key=lambda t: (done[:1] == [t], done.count(t)))
    minutes = s.pref("health.workout_minutes", [45, 60])[0]
    usual = WORKOUT_HOURS.get(s.pref("health.workout_time", "morning"), "07:00")
    start = free_slot(events, day(2), (usual, *WORKOUT_SLOTS), minutes)
    add_event(s, f"{activity.title()} workout", start, minutes)
    s.say(f"Blocked {start[11:16]}-{plus_minutes(start, minutes)[11:16]} on Sunday for {activity} ({minutes} min)."
          + s.offer(f" You've done {', '.join(done) or 'no workouts'} this week, so this keeps it varied."))
