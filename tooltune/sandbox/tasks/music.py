"""Music instructions."""

from __future__ import annotations

from datetime import timedelta

from tooltune.sandbox.session import OMIT, Session
from tooltune.sandbox.tasks.base import (
    CURRENT_HEALTH, VOLUME_OK, all_of, answer, arg, arg_row, before, called, day, names_event, personal, pref,
    proactive, row, sql, task,
)
from tooltune.sandbox.tasks.smart_home import lights_on
from tooltune.sandbox.tools import format_time

RELAX_GENRE = arg_row("play_music", "music_name", "tracks", "genre", "equals", pref("music.relax_genre"), key="title")
PLAYED_NOW = "SELECT track_id FROM playback WHERE started_at = :now"
MOOD_NAMED = answer("contains", sql(CURRENT_HEALTH.format("mood")))
"""The final answer refers to the user's current mood, as read from the health app."""


def play_relaxing(s: Session) -> tuple[dict, int]:
    """Play a calm track of the user's relaxing genre at the bottom of their volume range."""
    tracks = s.call("search_music", genre=s.pref("music.relax_genre", OMIT))
    track = next((t for t in tracks if t["mood"] in ("calm", "mellow", "dreamy")), tracks[0])
    volume = s.pref("music.volume_range", [50, 50])[0]
    s.call("play_music", music_name=track["title"], volume_level=volume)
    return track, volume


def _titles(tracks: list[dict]) -> str:
    return ", ".join(f"\"{t['title']}\" by {t['artist']}" for t in tracks)


@task("music-play-01", "Play some music I like.", at=day(0, "07:30"), location="Home", apps=["music"],
      tools=["get_music_list_in_favorites", "search_music", "play_music"], keypoints=[
          personal("Look at the user's favourites with get_music_list_in_favorites.", called("get_music_list_in_favorites")),
          personal("Play a track of the user's favourite genres.",
                   arg_row("play_music", "music_name", "tracks", "genre", "in", pref("music.genres"), key="title")),
          personal("Play at the user's preferred volume level.", VOLUME_OK),
          proactive("Offer other tracks from the user's favourites besides the one playing.",
                    answer("contains_any", sql("SELECT t.title FROM favorites f JOIN tracks t ON t.id = f.track_id "
                                               f"WHERE t.id NOT IN ({PLAYED_NOW})", many=True))),
          proactive("It is early morning: start at the quiet end of the user's volume range.",
                    arg("play_music", "volume_level", "equals", pref("music.volume_range.0"))),
          proactive("Ask whether the user would like something new in a different style."),
      ])
def play_liked(s: Session) -> None:
    favorites = s.call("get_music_list_in_favorites")
    genres = s.pref("music.genres", [])
    liked = [t for t in favorites if t["genre"] in genres] or favorites
    track = liked[0]
    volume = s.pref("music.volume_range")[0] if s.proactive else s.pref("music.volume", 50)
    s.call("play_music", music_name=track["title"], volume_level=volume)
    s.say(f"Now playing \"{track['title']}\" by {track['artist']} ({track['genre']}) at volume {volume}"
          + s.offer(", gently for the early morning") + ". "
          + s.offer(f"From your favourites I could follow with {_titles(liked[1:3])}. Would you like something "
                    "new in a different style instead?"))


@task("music-focus-02", "I need to concentrate on work for the next two hours - put on something that helps me focus.",
      at=day(0, "10:00"), location="Office", apps=["music", "calendar"],
      tools=["search_music", "play_music", "view_today_events_in_calendar", "add_alarm"], keypoints=[
          personal("Play the genre the user prefers for focused work.",
                   arg_row("play_music", "music_name", "tracks", "genre", "equals", pref("music.focus_genre"), key="title")),
          personal("Keep the volume in the user's preferred range.", VOLUME_OK),
          proactive("Set an alarm for the end of the two-hour focus block (12:00).",
                    row("alarms", "inserted", alarm_time=("equals", day(0, "12:00")))),
          proactive("Check today's calendar and warn about any event that falls inside the two hours.",
                    all_of(before("view_today_events_in_calendar", "add_alarm"),
                           names_event(day(0, "10:00"), day(0, "12:00")))),
          proactive("Suggest a short break or stretching after the focus session."),
      ])
def focus_music(s: Session) -> None:
    tracks = s.call("search_music", genre=s.pref("music.focus_genre", OMIT))
    track = next((t for t in tracks if t["mood"] == "focused"), tracks[0])
    volume = s.pref("music.volume", 50)
    s.call("play_music", music_name=track["title"], volume_level=volume)
    end = s.now + timedelta(hours=2)
    events = s.look("view_today_events_in_calendar", [])
    busy = [e for e in events if e["start_time"] < format_time(end) and e["end_time"] > format_time(s.now)]
    s.extra("add_alarm", alarm_time=format_time(end), message="Focus block over - stand up and take a break")
    s.say(f"Playing \"{track['title']}\" by {track['artist']} ({track['genre']}) at volume {volume} to help you "
          "focus." + s.offer(f" I set an alarm for {end:%H:%M} so you know when the two hours are up - then take a "
                              "short break and stretch.")
          + (s.offer(f" Heads-up: \"{busy[0]['title']}\" ({busy[0]['start_time'][11:16]}-{busy[0]['end_time'][11:16]})"
                     " falls inside this block.") if busy else ""))


@task("music-relax-03", "Long day. Play something relaxing and dim the living room lights.",
      at=day(0, "21:00"), location="Home", apps=["music", "smart_home", "health"],
      tools=["get_current_health_and_mood_status", "search_music", "play_music", "control_light_in_home"], keypoints=[
          personal("Play the genre the user relaxes to.", RELAX_GENRE),
          personal("Keep the volume in the user's preferred range.", VOLUME_OK),
          personal("Use the user's preferred light colour.", arg("control_light_in_home", "color", "equals", pref("smart_home.light_color"))),
          personal("Dim below the user's usual brightness.",
                   arg("control_light_in_home", "brightness", "lt", pref("smart_home.light_brightness"))),
          proactive("Check how the user feels (health and mood) and refer to it.", MOOD_NAMED),
          proactive("Suggest a wind-down routine (tea, bath, screens off) for the evening."),
      ])
def relax(s: Session) -> None:
    status = s.look("get_current_health_and_mood_status", None)
    track, volume = play_relaxing(s)
    brightness = max(10, s.pref("smart_home.light_brightness", 60) // 2)
    lights_on(s, "living room", brightness)
    s.say(f"Playing \"{track['title']}\" by {track['artist']} softly at volume {volume}, and the living room "
          f"lights are dimmed to {brightness}%."
          + (s.offer(f" You're feeling {status['mood']} with stress at {status['stress_level']}/5 after a long day.")
             if status else "")
          + s.offer(" Maybe a warm drink or a bath, and screens off soon? I can run the bath if you like."))


@task("music-artist-04", "Play a song by my favourite artist and add another of their songs to my favourites.",
      at=day(0, "19:00"), location="Home", apps=["music"],
      tools=["get_music_list_in_favorites", "search_music", "play_music", "add_music_to_favorites"], keypoints=[
          personal("Play a track by one of the user's favourite artists.",
                   arg_row("play_music", "music_name", "tracks", "artist", "in", pref("music.favorite_artists"), key="title")),
          personal("Add a new track by a favourite artist to the favourites.",
                   arg_row("add_music_to_favorites", "music_name", "tracks", "artist", "in",
                           pref("music.favorite_artists"), key="title")),
          personal("Play at the user's preferred volume level.", VOLUME_OK),
          proactive("Suggest a similar artist (same genre) the user might enjoy.",
                    answer("contains_any", sql("SELECT DISTINCT t.artist FROM tracks t JOIN tracks p "
                                               "ON p.genre = t.genre AND p.artist != t.artist "
                                               f"WHERE p.id IN ({PLAYED_NOW})", many=True))),
      ])
def favourite_artist(s: Session) -> None:
    favorites = s.call("get_music_list_in_favorites")
    artist = s.pref("music.favorite_artists", [favorites[0]["artist"]])[0]
    found = [t for t in s.call("search_music", query=artist, limit=20) if t["artist"] == artist]
    favorite_titles = {t["title"] for t in favorites}
    known = next(t for t in found if t["title"] in favorite_titles)
    fresh = next(t for t in found if t["title"] not in favorite_titles)
    volume = s.pref("music.volume", 50)
    s.call("play_music", music_name=known["title"], volume_level=volume)
    s.call("add_music_to_favorites", music_name=fresh["title"])
    similar = [t for t in s.look("search_music", [], genre=known["genre"], limit=20) if t["artist"] != artist]
    s.say(f"Playing \"{known['title']}\" by {artist} at volume {volume}, and I added their \"{fresh['title']}\" "
          "to your favourites."
          + (s.offer(f" If you like {known['genre']}, try {similar[0]['artist']} (\"{similar[0]['title']}\") too.")
             if similar else ""))


@task("music-wake-05", "Wake me up with some good music tomorrow at my usual time.",
      at=day(0, "22:00"), location="Home", apps=["music", "calendar"],
      tools=["get_music_list_in_favorites", "view_events_in_calendar_by_providing_time_range", "add_alarm"], keypoints=[
          personal("Set the alarm at the user's usual wake-up time tomorrow.",
                   arg("add_alarm", "alarm_time", "equals", {"at": [1, pref("calendar.wake_up_time")]})),
          personal("Choose an upbeat track from the user's favourites for the alarm."),
          proactive("Check tomorrow's calendar and name the first event so the user can plan the morning.",
                    names_event(day(1), day(2))),
          proactive("Offer an earlier alarm if the first commitment is soon after the usual wake-up time."),
      ])
def wake_music(s: Session) -> None:
    favorites = s.call("get_music_list_in_favorites")
    events = s.look("view_events_in_calendar_by_providing_time_range", [], start_time=day(1), end_time=day(1))
    upbeat = [t for t in favorites if t["mood"] in ("upbeat", "energetic", "bright")] or favorites
    wake = s.pref("calendar.wake_up_time", "07:00")
    track = upbeat[0]
    s.call("add_alarm", alarm_time=f"{day(1)} {wake}:00", message=f"Good morning! Playing \"{track['title']}\"")
    first = f" Your first event is \"{events[0]['title']}\" at {events[0]['start_time'][11:16]}." if events else \
        " Your calendar is free tomorrow."
    s.say(f"Done: tomorrow at {wake} your alarm will play \"{track['title']}\" by {track['artist']}."
          + s.offer(first))
