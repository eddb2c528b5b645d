"""`mkd demo` / `mkd pipeline run` process handling."""

from __future__ import annotations

import os
import signal

import pytest
from mkd.cli.pipeline_cmds import _sigterm_interrupts


def test_sigterm_stops_the_demo_like_ctrl_c() -> None:
    """`kill` must unwind the demo (its services stop) instead of leaving the teacher running."""
    previous = signal.getsignal(signal.SIGTERM)
    try:
        _sigterm_interrupts()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)
