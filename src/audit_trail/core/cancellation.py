"""Background loops that stop when cancelled, even when a driver swallowed the
cancellation: PyMongo's async client may catch the ``CancelledError`` thrown into
one of its awaits and return, or raise its own error, leaving the task marked as
cancelling but running on."""

from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """Raise ``CancelledError`` if the current task was asked to stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
