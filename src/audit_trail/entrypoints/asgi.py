"""ASGI application factories for uvicorn (``factory=True``), one per web framework.

``uvicorn --factory audit_trail.entrypoints.asgi:litestar_app`` works as well as
``audit-trail serve``. Each factory reads the settings from the environment when
called, never at import time, and imports its framework only then, so either app
runs without the other framework installed.
"""

from __future__ import annotations

import gc
import os
from typing import TYPE_CHECKING, TypeVar

from audit_trail.entrypoints.settings import load_settings

if TYPE_CHECKING:
    from litestar import Litestar
    from quart import Quart

App = TypeVar("App")


def quart_app() -> Quart:
    """The Quart app, configured from ``os.environ``."""
    from audit_trail.entrypoints.quart_app import create_app  # noqa: PLC0415

    return _serving(create_app(load_settings(os.environ)))


def litestar_app() -> Litestar:
    """The Litestar app, configured from ``os.environ``."""
    from audit_trail.entrypoints.litestar_app import create_app  # noqa: PLC0415

    return _serving(create_app(load_settings(os.environ)))


def _serving(app: App) -> App:
    """``app``, with what the process holds by now (modules, the app) moved out of
    the garbage collector's way: it lives as long as the process, and every full
    collection would walk it again (an eighth of the CPU of a batch of writes)."""
    gc.freeze()
    return app
