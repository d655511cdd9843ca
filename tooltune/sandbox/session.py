"""What a reference solver talks to: a `Session` over one case in one world.

A solver (see `tasks/`) talks to a `Session`: `s.call(tool, **args)` runs a tool and records the assistant tool call
and the tool result as OpenAI messages; `s.pref(path, default)` reads a preference; `s.say(text)` gives
the final answer. What goes beyond the literal request is marked as such: `s.look(tool, default, **args)`
is an observation the request does not ask for (the calendar before booking, the forecast before an
outing, the mood before choosing music), `s.extra(tool, **args)` an action it does not ask for (a
reminder, a calendar entry, keeping water warm), `s.offer(text)` a remark in the answer (a warning, a
tip, a follow-up question), and `s.proactive` guards any other adaptation (e.g. a quieter volume early
in the morning).

Run blind (`blind=True`) the same solver becomes the baseline a literal, preference-blind assistant
gives: every preference reads as its generic default (contacts are placeholders), and it does only what
the request literally says: `look` is skipped and its `default` stands in for the result (it assumes
nothing is in the way), `extra` is skipped, `offer` adds nothing and `s.proactive` is False. The
personal key points measure the first half, the proactive key points the second.

Run heedless (`heedless=True`), a control for the checks themselves: preferences are honoured and every
proactive call and action is made, but nothing observed is used (`look` returns its `default` after the
call, `offer` adds nothing, `s.proactive` is False). Proactive key points that it still fails test what
was done with an observation, not merely that a tool was called.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tooltune.sandbox.cases import Case
from tooltune.sandbox.prompts import episode_messages
from tooltune.sandbox.world import World


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()
"""Default meaning 'leave the argument out' (the tool's own default applies)."""
BLIND_CONTACT = "friend@example.com"


class ReferenceError(RuntimeError):
    """A gold trajectory hit a tool error: a bug in the solver or in the data, never acceptable."""


class BlindStop(Exception):
    """The blind policy's call failed; its trajectory ends there."""


class Session:
    """One run of a solver on one case in one world; collects the trajectory in `messages`."""

    def __init__(self, case: Case, world: World, *, blind: bool = False, heedless: bool = False,
                 include_profile: bool = True) -> None:
        self.case = case
        self.user = case.user
        self.world = world
        self.now = world.now
        self.blind = blind
        self.heedless = heedless
        self.messages: list[dict] = episode_messages(case, include_profile)
        self.answer: str | None = None
        self._calls = 0

    def pref(self, path: str, default: Any = OMIT) -> Any:
        """The user's preference at `path`; the default when running blind."""
        return default if self.blind else self.user.pref(path)

    def contact(self, relation: str) -> dict[str, str]:
        """The user's first common contact with `relation` (name, email); a placeholder when blind."""
        if self.blind:
            return {"name": "there", "email": BLIND_CONTACT, "relation": relation}
        for person in self.user.pref("email.common_contacts"):
            if person["relation"] == relation:
                return person
        raise ReferenceError(f"user {self.user.id} has no contact with relation {relation!r}")

    @property
    def proactive(self) -> bool:
        """Whether this run acts on what it observes beyond the literal request (gold only)."""
        return not (self.blind or self.heedless)

    def look(self, name: str, default: Any, **arguments: Any) -> Any:
        """An observation the request does not ask for; blind: skipped, heedless: made; both get `default`."""
        if self.blind:
            return default
        result = self.call(name, **arguments)
        return default if self.heedless else result

    def extra(self, name: str, **arguments: Any) -> Any:
        """An action the request does not ask for; the blind run skips it (None)."""
        return None if self.blind else self.call(name, **arguments)

    def offer(self, text: str) -> str:
        """A proactive remark for the final answer (warning, tip, question); '' unless the run is proactive."""
        return text if self.proactive else ""

    def call(self, name: str, **arguments: Any) -> Any:
        """Run a tool; returns its result. Arguments equal to OMIT are left out."""
        arguments = {k: v for k, v in arguments.items() if v is not OMIT}
        self._calls += 1
        call_id = f"call_{self._calls}"
        self.messages.append({"role": "assistant", "content": None, "tool_calls": [{
            "id": call_id, "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}}]})
        response = self.world.call(name, arguments)
        self.messages.append({"role": "tool", "tool_call_id": call_id, "name": name,
                              "content": json.dumps(response, ensure_ascii=False)})
        if "error" in response:
            if self.blind:
                raise BlindStop(response["error"]["message"])
            raise ReferenceError(f"case {self.case.id}: {name}({arguments}) failed: {response['error']}")
        return response["result"]

    def say(self, text: str) -> None:
        """The final answer to the user (runs of spaces left by dropped offers are closed up)."""
        text = re.sub(r" {2,}", " ", text).strip()
        self.answer = text
        self.messages.append({"role": "assistant", "content": text})
