"""The trial each worker process runs now, told to whoever listens.

A worker process of ``executor="processes"`` passes the id of each trial it starts (and
None when it ends) to its parent, which fails the trial at once if the process dies
instead of waiting for the heartbeat's grace period.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["notify_running", "set_running_listener"]

_listener: Callable[[int | None], None] | None = None


def set_running_listener(listener: Callable[[int | None], None] | None) -> None:
    """Call ``listener(trial_id)`` as each trial of this process starts, ``(None)`` as it ends."""
    global _listener
    _listener = listener


def notify_running(trial_id: int | None) -> None:
    """Tell the listener, if any, which trial this process runs now (None: none)."""
    if _listener is not None:
        _listener(trial_id)
