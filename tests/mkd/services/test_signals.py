"""SIGTERM unwinds like Ctrl-C inside sigterm_as_interrupt()."""

from __future__ import annotations

import os
import signal

import pytest
from mkd.services.signals import sigterm_as_interrupt


def test_sigterm_raises_keyboard_interrupt_and_cleanup_runs() -> None:
    cleaned = []
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"), sigterm_as_interrupt():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # a second SIGTERM must not break the cleanup
            cleaned.append(True)
    assert cleaned == [True]
    assert signal.getsignal(signal.SIGTERM) == before
