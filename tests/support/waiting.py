"""Waiting for a condition, never for a fixed time.

A test that sleeps for "long enough" fails on a busy machine and wastes time
on an idle one. `wait_for` polls a condition until it holds or a generous
deadline passes (the deadline only bounds a test that would fail anyway).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], *, timeout: float = 60.0, every: float = 0.1, what: str = "condition") -> T:
    """Return the first truthy value of `condition()`; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
