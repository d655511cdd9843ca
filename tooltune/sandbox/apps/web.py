"""Web app: news by category, trending news, encyclopedia search."""

from __future__ import annotations

from typing import Annotated, Literal

from tooltune.sandbox.retrieval import BM25Ranker
from tooltune.sandbox.tools import Range, ToolContext, format_time, rows, tool

NewsCategory = Literal[
    "technology", "business", "science", "health", "sports", "entertainment", "politics", "travel", "culture",
]


@tool("web")
def search_news_by_category(
    ctx: ToolContext, category: NewsCategory, limit: Annotated[int, Range(1, 20)] = 5
) -> list[dict]:
    """Finds the latest news of a category, newest first.

    Args:
        category: The news category.
        limit: Maximum number of articles (1-20).
    """
    return rows(ctx.db.execute(
        "SELECT * FROM news WHERE category = ? AND published_at <= ? ORDER BY published_at DESC LIMIT ?",
        (category, format_time(ctx.now), limit)))


@tool("web")
def search_heat_news(ctx: ToolContext, limit: Annotated[int, Range(1, 20)] = 5) -> list[dict]:
    """Fetches today's most popular news articles across all categories.

    Args:
        limit: Maximum number of articles (1-20).
    """
    return rows(ctx.db.execute(
        "SELECT * FROM news WHERE published_at <= ? AND published_at >= ? ORDER BY popularity DESC LIMIT ?",
        (format_time(ctx.now), ctx.now.strftime("%Y-%m-%d 00:00:00"), limit)))


@tool("web")
def search_from_wikipedia(ctx: ToolContext, query: str, topk: Annotated[int, Range(1, 10)] = 3) -> list[dict]:
    """Searches an encyclopedia for articles matching a query and returns the top results.

    Args:
        query: What to look up.
        topk: Number of articles to return (1-10).
    """
    articles = rows(ctx.db.execute("SELECT * FROM wiki"))
    docs = [(str(a["id"]), f"{a['title']} {a['title']} {a['content']}") for a in articles]
    by_id = {str(a["id"]): a for a in articles}
    return [by_id[i] for i, score in BM25Ranker().rank(query, docs, topk) if score > 0]
