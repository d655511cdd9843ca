"""Email app: send, list today's mail, search by address or content."""

from __future__ import annotations

from typing import Annotated

from tooltune.sandbox.retrieval import BM25Ranker
from tooltune.sandbox.tools import Pattern, Range, ToolContext, ToolError, format_time, require_row, rows, tool

EmailAddress = Annotated[str, Pattern(r"^[^@\s,;]+@[^@\s,;]+\.[A-Za-z]{2,}$")]


@tool("email")
def send_email(
    ctx: ToolContext, receiver: EmailAddress, subject: str, content: str, attachments: list[str] | None = None
) -> dict:
    """Sends an email from the user's address.

    Args:
        receiver: The recipient's email address, e.g. jamie.rivera@example.com.
        subject: The subject line.
        content: The body of the email.
        attachments: Paths of files to attach.
    """
    if not subject.strip() or not content.strip():
        raise ToolError("invalid_arguments", "subject and content must not be empty")
    sender = ctx.user_info("email")
    cursor = ctx.db.execute(
        "INSERT INTO emails (sender, receiver, subject, content, timestamp, folder, is_read, attachments) "
        "VALUES (?, ?, ?, ?, ?, 'sent', 1, ?)",
        (sender, receiver, subject, content, format_time(ctx.now), ",".join(attachments or [])))
    return {"email_id": cursor.lastrowid, "status": "sent", "sender": sender, "receiver": receiver}


@tool("email")
def get_today_emails_until_now(ctx: ToolContext) -> list[dict]:
    """Retrieves today's emails (received and sent) up to the current time, newest first."""
    day = ctx.now.strftime("%Y-%m-%d")
    return rows(ctx.db.execute(
        "SELECT * FROM emails WHERE timestamp >= ? AND timestamp <= ? ORDER BY timestamp DESC",
        (f"{day} 00:00:00", format_time(ctx.now))))


@tool("email")
def search_email_by_sender_and_receiver(ctx: ToolContext, address: str) -> list[dict]:
    """Searches emails whose sender or receiver contains an address (or part of one), newest first.

    Args:
        address: An email address or a part of it, e.g. a name or a domain.
    """
    if len(address.strip()) < 2:
        raise ToolError("invalid_arguments", "argument 'address': give at least 2 characters")
    needle = address.strip().lower()
    return rows(ctx.db.execute(
        "SELECT * FROM emails WHERE (instr(lower(sender), ?) > 0 OR instr(lower(receiver), ?) > 0) "
        "AND timestamp <= ? ORDER BY timestamp DESC", (needle, needle, format_time(ctx.now))))


@tool("email")
def search_email_by_content(ctx: ToolContext, query: str, top_k: Annotated[int, Range(1, 20)] = 5) -> list[dict]:
    """Searches emails by the similarity of their subject and content to a query (BM25), best first.

    Args:
        query: Words to look for.
        top_k: How many emails to return (1-20).
    """
    mails = rows(ctx.db.execute("SELECT * FROM emails WHERE timestamp <= ?", (format_time(ctx.now),)))
    docs = [(str(m["id"]), f"{m['subject']} {m['content']}") for m in mails]
    by_id = {str(m["id"]): m for m in mails}
    return [by_id[i] for i, score in BM25Ranker().rank(query, docs, top_k) if score > 0]


@tool("email")
def mark_email_as_read(ctx: ToolContext, email_id: int) -> dict:
    """Marks a received email as read.

    Args:
        email_id: ID of the email, as listed by the email tools.
    """
    require_row(ctx, "emails", "id", email_id, "email")
    ctx.db.execute("UPDATE emails SET is_read = 1 WHERE id = ?", (email_id,))
    return {"email_id": email_id, "is_read": True}
