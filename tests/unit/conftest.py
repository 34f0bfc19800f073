"""Fixtures of the verifier's tests (test_verify, test_verify_cli, test_verify_index):
in-process services to verify (``verify_support``). A module's own ``service``
fixture, where it has one, overrides these."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.unit.verify_support import Service, Services


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with contextlib.AsyncExitStack() as stack:
        yield Services(stack, tmp_path)


@pytest.fixture
async def service(services: Services) -> Service:
    return await services.start()
