"""Fixtures of the guard tests: one chain with the default config of the finance pack."""

from __future__ import annotations

import pytest
from mkd.config.guards import GuardsConfig
from mkd.guards import GuardChain


@pytest.fixture(scope="session")
def chain() -> GuardChain:
    return GuardChain(GuardsConfig(), "finance", path="test")
