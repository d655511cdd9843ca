"""Resolving a suite spec: 'builtin' (tooltune's own sandbox suite) or 'etapp:PATH' (an imported release)."""

from __future__ import annotations

from typing import Any

from tooltune.errors import UsageError


class SuiteSpecError(UsageError):
    """The --suite value is not a known suite spec."""


def load_suite(spec: str) -> Any:
    """The Suite named by `spec`."""
    if spec == "builtin":
        from tooltune.sandbox.suite import builtin_suite

        return builtin_suite()
    if spec.startswith("etapp:"):
        from tooltune.bench.etapp import load_etapp_suite

        path = spec.removeprefix("etapp:")
        if not path:
            raise SuiteSpecError("suite: 'etapp:' needs a path, e.g. etapp:../shared/etapp")
        return load_etapp_suite(path)
    raise SuiteSpecError(f"suite must be 'builtin' or 'etapp:PATH', got {spec!r}")
