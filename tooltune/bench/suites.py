"""Resolving a suite spec: 'builtin' (tooltune's own sandbox suite) or 'etapp:PATH' (an imported release)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tooltune.errors import UsageError

if TYPE_CHECKING:
    from tooltune.sandbox.suite import Suite


class SuiteSpecError(UsageError):
    """The --suite value is not a known suite spec."""


def stored_spec(spec: str) -> str:
    """`spec` as a run stores it: an ETAPP path made absolute, so that `bench judge/report` work from anywhere."""
    if spec.startswith("etapp:"):
        return "etapp:" + str(Path(spec.removeprefix("etapp:")).expanduser().resolve())
    return spec


def load_suite(spec: str) -> Suite:
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
