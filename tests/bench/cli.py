"""Running the real command line in-process (`tooltune.cli.main`) with stand-in models, for bench tests."""

from __future__ import annotations

import pytest

from tests.bench.fakes import fake_load_model
from tests.train.run_cli import run_cli as invoke

__all__ = ["fake_models", "invoke"]


@pytest.fixture
def fake_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Model specs resolve to scripted stand-ins (see `fake_load_model`): no weights, no network."""
    monkeypatch.setattr("tooltune.models.registry.load_model", fake_load_model)
