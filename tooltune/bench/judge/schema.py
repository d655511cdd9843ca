"""The judge's verdict format (ETAPP style) and its validation.

Procedure has four fixed sub-points; Personalization and Proactivity have one entry per annotated
key point, in order. Each entry: an analysis and a score 0/1/2 (not / partly / fully met) or
"not applicable" (for objective reasons). Each dimension ends with a final score 0-5.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

DIMENSIONS = ("procedure", "personalization", "proactivity")
PROCEDURE_POINTS = (
    ("completeness", "The task is fully completed: every part of the request is addressed."),
    ("no_unnecessary_actions", "No unnecessary or redundant actions or tool calls."),
    ("accurate_tool_calls", "Tool calls use the right tools with correct, well-formed arguments."),
    ("clear_summary", "The final answer clearly summarises what was done and the results."),
)
NOT_APPLICABLE = "not applicable"

_SUBPOINT = {
    "type": "object",
    "required": ["analysis", "score"],
    "properties": {
        "name": {"type": "string"},
        "keypoint": {"type": ["integer", "string"]},
        "analysis": {"type": "string"},
        "score": {"enum": [0, 1, 2, NOT_APPLICABLE]},
    },
}
_DIMENSION = {
    "type": "object",
    "required": ["subpoints", "final_score"],
    "properties": {
        "subpoints": {"type": "array", "items": _SUBPOINT},
        "final_score": {"type": "integer", "minimum": 0, "maximum": 5},
    },
}
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": list(DIMENSIONS),
    "properties": {name: _DIMENSION for name in DIMENSIONS},
}
_VALIDATOR = Draft202012Validator(VERDICT_SCHEMA)


class VerdictError(ValueError):
    """A judge answer does not follow the verdict format; the message names the offending field."""


def validate_verdict(verdict: Any, n_personal: int, n_proactive: int) -> dict[str, Any]:
    """Check a parsed verdict against the schema and the case's key-point counts; returns it."""
    error = best_match(_VALIDATOR.iter_errors(verdict))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise VerdictError(f"{where}: {error.message}")
    expected = {"procedure": len(PROCEDURE_POINTS), "personalization": n_personal, "proactivity": n_proactive}
    for name, count in expected.items():
        got = len(verdict[name]["subpoints"])
        if got != count:
            raise VerdictError(f"{name}/subpoints: expected {count} entries (one per point), got {got}")
    return verdict
