"""Refusals arrive as exceptions carrying the problem's members."""

from __future__ import annotations

import pytest

from audit_trail.client import Forbidden, NotFound, Unauthorized, ValidationError
from tests.client.conftest import Clients


async def test_404_is_not_found(clients: Clients) -> None:
    with pytest.raises(NotFound) as caught:
        await clients().get("01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert (caught.value.status, caught.value.slug) == (404, "not-found")
    assert caught.value.title
    assert caught.value.detail


async def test_401_and_403(clients: Clients) -> None:
    with pytest.raises(Unauthorized) as caught:
        await clients(token="not-a-token").get("x")
    assert caught.value.status == 401
    reader = clients(token=clients.token(["audit:read"]))
    with pytest.raises(Forbidden):
        await reader.record({"action": "x"})


async def test_422_names_the_fields(clients: Clients) -> None:
    with pytest.raises(ValidationError) as caught:
        await clients().record({"action": "bad action!", "colour": "red"})
    assert {e["field"] for e in caught.value.errors} >= {"action", "colour"}
    assert "errors" in caught.value.extras
