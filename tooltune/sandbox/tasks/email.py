"""Email instructions."""

from __future__ import annotations

from tooltune.sandbox.session import Session
from tooltune.sandbox.tasks.base import (
    DINNER_TIMES, SIGNED, add_event, answer, any_of, arg, called, calendar_clear, count, day, email_person,
    forecast, free_slot, looked_first, personal, plus_minutes, proactive, reservation_clear, row, sent_to, sql,
    task,
)

LATEST_FAMILY_MAIL = sql("SELECT id FROM emails WHERE sender = :family AND folder = 'inbox' AND timestamp <= :now "
                         "ORDER BY timestamp DESC LIMIT 1", family={"contact": "family"})
from tooltune.sandbox.tasks.navigation import CUISINE_OK, PRICE_OK, RESERVATION_IN_CALENDAR, find_places



@task("email-new-01", "Any new mails until now?", at=day(0, "09:00"), location="Office", apps=["email"],
      tools=["get_today_emails_until_now"], keypoints=[
          personal("Fetch today's emails.", called("get_today_emails_until_now")),
          personal("Put mails from the user's common contacts (family, manager, colleagues) first."),
          proactive("Offer to reply, or to add anything the mails mention to the calendar."),
      ])
def new_mail(s: Session) -> None:
    mails = [m for m in s.call("get_today_emails_until_now") if m["folder"] == "inbox"]
    known = {c["email"] for c in s.pref("email.common_contacts", [])}
    mails.sort(key=lambda m: m["sender"] not in known)
    lines = "; ".join(f"{m['sender']}: \"{m['subject']}\"{'' if m['is_read'] else ' (unread)'}" for m in mails)
    s.say(f"You have {len(mails)} email(s) today: {lines or 'none'}. Shall I reply to any of them?")


@task("email-reply-02", "Reply to the latest email from my family and tell them yes, that works for me.",
      at=day(0, "18:00"), location="Home", apps=["email"],
      tools=["search_email_by_sender_and_receiver", "send_email", "mark_email_as_read"], keypoints=[
          personal("Find the family member among the user's common contacts.",
                   arg("search_email_by_sender_and_receiver", "address", "equals", {"contact": "family"})),
          personal("Reply to that family member.", sent_to("family")),
          personal("Sign the reply the way the user does.", SIGNED),
          proactive("Mark the answered email as read.",
                    count("emails", "equals", 1, id=("equals", LATEST_FAMILY_MAIL), is_read=("equals", 1))),
          proactive("Offer to put the plan in the calendar."),
      ])
def reply_family(s: Session) -> None:
    family = s.contact("family")
    mails = s.call("search_email_by_sender_and_receiver", address=family["email"])
    latest = next(m for m in mails if m["folder"] == "inbox")
    email_person(s, {**family, "email": latest["sender"]}, f"Re: {latest['subject']}", "Yes, that works for me!")
    if not latest["is_read"]:
        s.extra("mark_email_as_read", email_id=latest["id"])
    s.say(f"Replied \"yes, that works\" to {family['name']}'s email \"{latest['subject']}\""
          + s.offer(" and marked it read") + "." + s.offer(" Want me to add it to your calendar?"))


@task("email-late-03", "Email my family that I'll be home late tonight.", at=day(0, "17:30"), location="Office",
      apps=["email", "calendar"], tools=["view_today_events_in_calendar", "send_email"], keypoints=[
          personal("Write to the user's family contact.", sent_to("family")),
          personal("Sign the email the way the user does.", SIGNED),
          proactive("Check the rest of today's schedule first and name in the email what keeps the user late.",
                    looked_first("view_today_events_in_calendar", "send_email", any_of(
                        calendar_clear(day(0, "17:30"), day(1)),
                        arg("send_email", "content", "contains", sql(
                            "SELECT title FROM events WHERE start_time < :end AND end_time > :start "
                            "ORDER BY end_time DESC LIMIT 1", start=day(0, "17:30"), end=day(1)))))),
          proactive("Offer to warm up the house before the user gets home."),
      ])
def home_late(s: Session) -> None:
    events = [e for e in s.look("view_today_events_in_calendar", []) if e["end_time"] > day(0, "17:30")]
    family = s.contact("family")
    last = max(events, key=lambda e: e["end_time"]) if events else None
    eta_text = plus_minutes(last["end_time"], 45)[11:16] if last else ""
    reason = f" - I have {last['title']} until {last['end_time'][11:16]}, so expect me around {eta_text}" \
        if last else ""
    email_person(s, family, "Home late tonight",
                 f"I'll be home late tonight{reason}. Don't wait for me for dinner.")
    s.say(f"Emailed {family['name']} that you'll be home late"
          + (f", around {eta_text} after {last['title']}" if last else "") + "."
          + s.offer(" Shall I set the heating so the house is comfortable when you arrive?"))


@task("email-colleague-04", "Did my colleague write to me recently? Let them know I'll get back to them on Monday.",
      at=day(0, "17:00"), location="Office", apps=["email", "calendar"],
      tools=["search_email_by_sender_and_receiver", "send_email", "add_alarm"], keypoints=[
          personal("Look for mail from the user's colleague.",
                   arg("search_email_by_sender_and_receiver", "address", "equals", {"contact": "colleague"})),
          personal("Reply to the colleague.", sent_to("colleague")),
          personal("Sign the email the way the user does.", SIGNED),
          proactive("Set a reminder for Monday that says what to follow up on (the mail's subject).",
                    row("alarms", "inserted", alarm_time=("startswith", day(3)), message=("contains", sql(
                        "SELECT subject FROM emails WHERE sender = :colleague AND folder = 'inbox' "
                        "AND timestamp <= :now ORDER BY timestamp DESC LIMIT 1", colleague={"contact": "colleague"})))),
      ])
def colleague_reply(s: Session) -> None:
    colleague = s.contact("colleague")
    mails = [m for m in s.call("search_email_by_sender_and_receiver", address=colleague["email"])
             if m["folder"] == "inbox"]
    latest = mails[0]
    email_person(s, colleague, f"Re: {latest['subject']}", "Thanks for your message - I'll get back to you on Monday.")
    s.extra("add_alarm", alarm_time=day(3, "09:00"), message=f"Get back to {colleague['name']}: {latest['subject']}")
    s.say(f"Yes - {colleague['name']} wrote \"{latest['subject']}\" ({latest['timestamp'][:16]}). I replied that "
          "you'll get back to them on Monday." + s.offer(" I set an alarm for Monday 09:00 to follow up."))


@task("email-invite-05", "Invite my best friend to dinner tomorrow evening at a restaurant I'd like, and book a table.",
      at=day(0, "12:30"), location="Office", apps=["email", "navigation", "calendar", "weather"],
      tools=["view_events_in_calendar_by_providing_time_range", "find_restaurants", "reserve_restaurant",
             "add_event_in_calendar", "get_future_weather", "send_email"], keypoints=[
          personal("Pick a cuisine the user likes.", CUISINE_OK),
          personal("Stay within the user's restaurant budget.", PRICE_OK),
          personal("Invite the friend from the user's common contacts.", sent_to("friend")),
          proactive("Check tomorrow evening's calendar before booking, and book a time that is free.",
                    looked_first("view_events_in_calendar_by_providing_time_range", "reserve_restaurant",
                                 reservation_clear(90))),
          proactive("Check tomorrow's weather (a storm is coming) and mention it.",
                    answer("contains", forecast("condition", day(1)))),
          proactive("Put the dinner in the calendar at the reserved time.",
                    RESERVATION_IN_CALENDAR),
      ])
def invite_friend(s: Session) -> None:
    events = s.look("view_events_in_calendar_by_providing_time_range", [], start_time=day(1), end_time=day(1))
    start = free_slot(events, day(1), DINNER_TIMES, 90)
    place = find_places(s, s.user.city, start)[0]
    s.call("reserve_restaurant", restaurant_id=place["id"], reservation_time=start, party_size=2)
    days = s.look("get_future_weather", [], location=s.user.city, start_time=day(1), end_time=day(1))
    friend = s.contact("friend")
    add_event(s, f"Dinner with {friend['name']}", start, 90, place["address"], extra=True)
    rain = f" The forecast says {days[0]['condition']}, so bring something for the rain." if days else ""
    email_person(s, friend, "Dinner tomorrow?",
                 f"Would you like to have dinner with me tomorrow at {start[11:16]} at {place['name']} "
                 f"({place['address']})? I booked a table for two.{rain}")
    s.say(f"Booked {place['name']} ({place['cuisine']}, about ${place['avg_price_per_person']:.0f} per person) "
          f"for two tomorrow at {start[11:16]}" + s.offer(", added it to your calendar") + f" and invited "
          f"{friend['name']}."
          + (s.offer(f" Tomorrow looks like {days[0]['condition']} ({days[0]['precipitation_chance']}% chance of "
                     "rain), so plan for the weather.") if days else ""))
