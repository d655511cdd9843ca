"""Shopping app: product search, cart and orders."""

from __future__ import annotations

from typing import Annotated

from tooltune.sandbox.tools import Range, ToolContext, ToolError, format_time, require_row, rows, tool


@tool("shopping")
def search_products_in_shopping_manager(
    ctx: ToolContext,
    query: str,
    max_price: float | None = None,
    category: str | None = None,
    limit: Annotated[int, Range(1, 50)] = 10,
) -> list[dict]:
    """Searches the product catalogue; products matching more query words come first, then by rating.

    Args:
        query: Words describing the product, e.g. 'running shoes' or 'organic coffee beans'.
        max_price: Only products costing at most this (USD).
        category: Only this category, e.g. Electronics, Groceries, Kitchen, Sports, Books, Home, Beauty.
        limit: Maximum number of products to return (1-50).
    """
    words = [w for w in query.lower().split() if len(w) > 1]
    if not words:
        raise ToolError("invalid_arguments", "argument 'query': give at least one word")
    haystack = "lower(title || ' ' || category || ' ' || brand || ' ' || tags)"
    score = " + ".join(f"(instr({haystack}, ?) > 0)" for _ in words)
    sql = f"SELECT *, ({score}) AS matches FROM products WHERE ({score}) > 0"
    params: list = words + words
    if max_price is not None:
        sql += " AND price <= ?"
        params.append(max_price)
    if category:
        sql += " AND lower(category) = lower(?)"
        params.append(category.strip())
    found = rows(ctx.db.execute(sql + " ORDER BY matches DESC, rating DESC, id LIMIT ?", (*params, limit)))
    for product in found:
        product.pop("matches")
    return found


@tool("shopping")
def add_product_to_cart(ctx: ToolContext, product_id: str, quantity: Annotated[int, Range(1, 20)] = 1) -> dict:
    """Adds a product to the cart (or raises its quantity when it is already there).

    Args:
        product_id: ID of the product, as listed by search_products_in_shopping_manager.
        quantity: How many to add (1-20).
    """
    product = require_row(ctx, "products", "id", product_id, "product")
    ctx.db.execute(
        "INSERT INTO cart (product_id, quantity, added_at) VALUES (?, ?, ?) "
        "ON CONFLICT(product_id) DO UPDATE SET quantity = quantity + excluded.quantity",
        (product_id, quantity, format_time(ctx.now)))
    total = ctx.db.execute("SELECT quantity FROM cart WHERE product_id = ?", (product_id,)).fetchone()[0]
    if total > 20:
        raise ToolError("invalid_arguments", f"at most 20 of one product per cart (would be {total})")
    return {"product_id": product_id, "title": product["title"], "quantity_in_cart": total}


@tool("shopping")
def view_cart_in_shopping_manager(ctx: ToolContext) -> dict:
    """Views the items in the cart with prices and the total."""
    items = rows(ctx.db.execute(
        "SELECT c.product_id, p.title, p.category, p.price, c.quantity, round(p.price * c.quantity, 2) AS subtotal "
        "FROM cart c JOIN products p ON p.id = c.product_id ORDER BY c.added_at, c.product_id"))
    return {"items": items, "total": round(sum(i["subtotal"] for i in items), 2)}


@tool("shopping")
def remove_product_from_cart(ctx: ToolContext, product_id: str) -> dict:
    """Removes a product from the cart.

    Args:
        product_id: ID of the product in the cart.
    """
    require_row(ctx, "cart", "product_id", product_id, "cart item")
    ctx.db.execute("DELETE FROM cart WHERE product_id = ?", (product_id,))
    return {"removed": product_id}


@tool("shopping")
def checkout_cart(ctx: ToolContext) -> dict:
    """Orders everything in the cart and empties it."""
    cart = view_cart_in_shopping_manager(ctx)
    if not cart["items"]:
        raise ToolError("invalid_state", "the cart is empty")
    for item in cart["items"]:
        ctx.db.execute("INSERT INTO orders (product_id, quantity, unit_price, ordered_at) VALUES (?, ?, ?, ?)",
                       (item["product_id"], item["quantity"], item["price"], format_time(ctx.now)))
    ctx.db.execute("DELETE FROM cart")
    return {"ordered_items": len(cart["items"]), "total": cart["total"]}
