"""Shopping instructions."""

from __future__ import annotations

from tooltune.sandbox.session import OMIT, Session
from tooltune.sandbox.tasks.base import (
    all_of, answer, any_of, arg, arg_row, called, count, day, looked_first, names_event, personal, pref, proactive,
    sql, task,
)

ADDED_WITHIN_BUDGET = arg_row("add_product_to_cart", "product_id", "products", "price", "lte",
                              pref("shopping.budget_per_item"))
OTHER_PAIRS = "SELECT {} FROM products WHERE title LIKE '%headphones%' AND id NOT IN (SELECT product_id FROM cart)"
SEARCH_WITHIN_BUDGET = arg("search_products_in_shopping_manager", "max_price", "lte", pref("shopping.budget_per_item"))


def buy_one(s: Session, query: str, category: str, must_contain: str) -> dict:
    """Search within the user's budget, prefer their brands then the best rated, add one to the cart."""
    found = s.call("search_products_in_shopping_manager", query=query, category=category,
                   max_price=s.pref("shopping.budget_per_item", OMIT))
    wanted = [p for p in found if must_contain.lower() in p["title"].lower()]
    brands = s.pref("shopping.brands", [])
    product = sorted(wanted, key=lambda p: (p["brand"] not in brands, -p["rating"]))[0]
    s.call("add_product_to_cart", product_id=product["id"], quantity=1)
    return product


@task("shop-cart-01", "Take a look at my shopping cart and recommend some cheaper alternatives.", at=day(0, "20:00"),
      location="Home", apps=["shopping"],
      tools=["view_cart_in_shopping_manager", "search_products_in_shopping_manager"], keypoints=[
          personal("Look at what is in the user's cart.", called("view_cart_in_shopping_manager")),
          personal("Keep the user's favourite brands and quality expectations in mind."),
          proactive("Offer to swap items in the cart."),
      ])
def cheaper_cart(s: Session) -> None:
    cart = s.call("view_cart_in_shopping_manager")
    tips = []
    for item in cart["items"]:
        kind = " ".join(item["title"].split()[-2:])
        found = [p for p in s.call("search_products_in_shopping_manager", query=kind, category=item["category"],
                                   max_price=round(item["price"] - 0.01, 2)) if p["id"] != item["product_id"]]
        tips.append(f"{item['title']} (${item['price']}): " + (
            f"{found[0]['title']} at ${found[0]['price']}" if found else "already the cheapest good option"))
    s.say("Cheaper alternatives - " + "; ".join(tips) + ". Want me to swap any of them in your cart?")


@task("shop-headphones-02", "I need new wireless headphones. Add a good pair to my cart.", at=day(0, "13:00"),
      location="Office", apps=["shopping"],
      tools=["search_products_in_shopping_manager", "add_product_to_cart", "view_cart_in_shopping_manager"], keypoints=[
          personal("Pick headphones within the user's budget per item.", ADDED_WITHIN_BUDGET),
          personal("Search within the user's budget.", SEARCH_WITHIN_BUDGET),
          personal("Prefer the user's favourite brands."),
          proactive("Mention another pair within budget as a cheaper or better-rated alternative, if there is one.",
                    any_of(count("products", "equals", 0, id=("in", sql(OTHER_PAIRS.format("id"), many=True)),
                                 price=("lte", pref("shopping.budget_per_item"))),
                           answer("contains_any", sql(OTHER_PAIRS.format("title"), many=True)))),
      ])
def headphones(s: Session) -> None:
    product = buy_one(s, "wireless headphones", "Electronics", "headphones")
    cart = {item["product_id"] for item in s.look("view_cart_in_shopping_manager", {"items": []})["items"]}
    others = [p for p in s.look("search_products_in_shopping_manager", [], query="wireless headphones",
                                category="Electronics", max_price=s.pref("shopping.budget_per_item", OMIT))
              if p["id"] not in cart and "headphones" in p["title"].lower()]
    cheaper = min(others, key=lambda p: p["price"]) if others else None
    s.say(f"Added {product['title']} (${product['price']}, rated {product['rating']}) to your cart."
          + (s.offer(f" If you'd rather spend less, {cheaper['title']} costs ${cheaper['price']} (rated "
                     f"{cheaper['rating']}).") if cheaper else ""))


@task("shop-groceries-03", "Put groceries for the week in my cart for my household.", at=day(0, "10:00"),
      location="Home", apps=["shopping"],
      tools=["search_products_in_shopping_manager", "add_product_to_cart", "view_cart_in_shopping_manager"],
      keypoints=[
          personal("Choose groceries that match the user's food preferences.",
                   arg_row("add_product_to_cart", "product_id", "products", "tags", "contains",
                           pref("shopping.grocery_tags.0"))),
          personal("Buy quantities for the size of the household.",
                   arg("add_product_to_cart", "quantity", "equals", pref("shopping.household_size"))),
          personal("Respect the user's dietary habits."),
          proactive("After adding, check the cart and give its new total.",
                    looked_first("add_product_to_cart", "view_cart_in_shopping_manager", answer("contains", sql(
                        "SELECT round(sum(p.price * c.quantity), 2) FROM cart c "
                        "JOIN products p ON p.id = c.product_id")))),
      ])
def groceries(s: Session) -> None:
    tag = s.pref("shopping.grocery_tags", ["groceries"])[0]
    found = s.call("search_products_in_shopping_manager", query=tag, category="Groceries")
    matching = [p for p in found if tag in p["tags"].split(", ")] or found
    quantity = s.pref("shopping.household_size", 1)
    for product in matching[:3]:
        s.call("add_product_to_cart", product_id=product["id"], quantity=quantity)
    cart = s.look("view_cart_in_shopping_manager", None)
    s.say(f"Added {quantity} each of " + ", ".join(p["title"] for p in matching[:3]) + "."
          + (s.offer(f" Your cart total is now ${cart['total']}, including items that were already there.")
             if cart else ""))


@task("shop-rain-04", "A storm is coming this weekend - get me something to stay dry.", at=day(0, "12:00"),
      location="Office", apps=["shopping", "weather", "calendar"],
      tools=["get_future_weather", "search_products_in_shopping_manager", "add_product_to_cart",
             "view_events_in_calendar_by_providing_time_range"], keypoints=[
          personal("Get the kind of rain gear the user uses.",
                   arg_row("add_product_to_cart", "product_id", "products", "title", "contains", pref("weather.rain_gear"))),
          personal("Stay within the user's budget per item.", ADDED_WITHIN_BUDGET),
          proactive("Check when the storm hits and say which day (Saturday).",
                    all_of(called("get_future_weather"), answer("contains_any", ["Saturday", day(1)]))),
          proactive("Check the weekend's calendar and name the plan the storm affects.", names_event(day(1), day(2))),
          proactive("Suggest moving outdoor plans away from the storm."),
      ])
def rain_gear(s: Session) -> None:
    days = s.look("get_future_weather", [], location=s.user.city, start_time=day(1), end_time=day(2))
    gear = s.pref("weather.rain_gear", "umbrella")
    product = buy_one(s, gear, "Outdoors", gear)
    wet = [d["date"] for d in days if d["precipitation_chance"] >= 50]
    plans = [e for e in s.look("view_events_in_calendar_by_providing_time_range", [], start_time=wet[0],
                               end_time=wet[0]) if e["start_time"][:10] == wet[0]] if wet else []
    s.say(f"I added {product['title']} (${product['price']}) to your cart - order today to have it in time."
          + (s.offer(f" Rain is expected on Saturday ({', '.join(wet)}).") if wet else "")
          + (s.offer(f" That's the day of \"{plans[0]['title']}\" - maybe move it to the dry day.") if plans else ""))


@task("shop-pot-05", "Suggest a new pot, add one I'd like to my cart, and remind me tonight at 8 to return the old one.",
      at=day(0, "12:00"), location="Home", apps=["shopping", "calendar"],
      tools=["search_products_in_shopping_manager", "add_product_to_cart", "add_alarm"], keypoints=[
          personal("Pick a pot within the user's budget per item.", ADDED_WITHIN_BUDGET),
          personal("Search within the user's budget.", SEARCH_WITHIN_BUDGET),
          personal("Prefer the user's favourite brands."),
          proactive("Mention keeping the receipt and the return window."),
      ])
def new_pot(s: Session) -> None:
    product = buy_one(s, "pot cookware", "Kitchen", "pot")
    s.call("add_alarm", alarm_time=day(0, "20:00"), message="Return the old pot")
    s.say(f"Added {product['title']} (${product['price']}, rated {product['rating']}) to your cart, and an alarm at "
          "20:00 to return the old pot - keep the receipt, returns are usually accepted within 30 days.")
