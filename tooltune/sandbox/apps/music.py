"""Music app: favourites, catalogue search, playback."""

from __future__ import annotations

from typing import Annotated

from tooltune.sandbox.tools import Range, ToolContext, ToolError, format_time, rows, tool

_TRACK_COLUMNS = "t.id AS track_id, t.title, t.artist, t.genre, t.mood, t.duration_seconds"


def find_track(ctx: ToolContext, music_name: str) -> dict:
    """The catalogue track titled `music_name` (case-insensitive; a unique partial title also matches)."""
    name = music_name.strip()
    exact = rows(ctx.db.execute(f"SELECT {_TRACK_COLUMNS} FROM tracks t WHERE lower(t.title) = lower(?)", (name,)))
    if exact:
        return exact[0]
    partial = rows(ctx.db.execute(
        f"SELECT {_TRACK_COLUMNS} FROM tracks t WHERE instr(lower(t.title), lower(?)) > 0 LIMIT 5", (name,)))
    if len(partial) == 1 and name:
        return partial[0]
    if partial:
        titles = [p["title"] for p in partial]
        raise ToolError("ambiguous", f"several tracks match {music_name!r}: {titles}; give the exact title")
    raise ToolError("not_found", f"no track titled {music_name!r}; use search_music to find titles")


@tool("music")
def get_music_list_in_favorites(ctx: ToolContext) -> list[dict]:
    """Returns the user's favourite tracks with artist, genre and mood."""
    return rows(ctx.db.execute(
        f"SELECT {_TRACK_COLUMNS} FROM favorites f JOIN tracks t ON t.id = f.track_id ORDER BY f.added_at DESC"))


@tool("music")
def search_music(
    ctx: ToolContext, query: str = "", genre: str | None = None, limit: Annotated[int, Range(1, 50)] = 10
) -> list[dict]:
    """Searches the music catalogue by title, artist or mood, optionally within one genre.

    Args:
        query: Words to look for in the title, artist or mood; empty matches everything.
        genre: Only tracks of this genre (e.g. jazz, indie, classical).
        limit: Maximum number of tracks to return (1-50).
    """
    sql = f"SELECT {_TRACK_COLUMNS} FROM tracks t WHERE 1 = 1"
    params: list = []
    for word in query.lower().split():
        sql += " AND (instr(lower(t.title), ?) > 0 OR instr(lower(t.artist), ?) > 0 OR instr(lower(t.mood), ?) > 0)"
        params += [word, word, word]
    if genre:
        sql += " AND lower(t.genre) = lower(?)"
        params.append(genre.strip())
    return rows(ctx.db.execute(sql + " ORDER BY t.id LIMIT ?", (*params, limit)))


@tool("music")
def play_music(ctx: ToolContext, music_name: str, volume_level: Annotated[int, Range(0, 100)]) -> dict:
    """Plays a music track at a given volume and records the playback.

    Args:
        music_name: The title of the track to play, without the artist's name.
        volume_level: Playback volume from 0 (silent) to 100 (loudest).
    """
    track = find_track(ctx, music_name)
    ctx.db.execute("INSERT INTO playback (track_id, volume_level, started_at) VALUES (?, ?, ?)",
                   (track["track_id"], volume_level, format_time(ctx.now)))
    return {"now_playing": track, "volume_level": volume_level}


@tool("music")
def add_music_to_favorites(ctx: ToolContext, music_name: str) -> dict:
    """Adds a track of the catalogue to the user's favourites.

    Args:
        music_name: The title of the track, without the artist's name.
    """
    track = find_track(ctx, music_name)
    if ctx.db.execute("SELECT 1 FROM favorites WHERE track_id = ?", (track["track_id"],)).fetchone():
        raise ToolError("conflict", f"{track['title']!r} is already in the favourites")
    ctx.db.execute("INSERT INTO favorites (track_id, added_at) VALUES (?, ?)",
                   (track["track_id"], format_time(ctx.now)))
    return {"added": track}
