"""Bearer authentication and scopes: 401 with a challenge, 403 for a missing scope."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.api.client import Api, entry, problem
from tests.api.tokens import ADMIN, READ, WRITE, Tokens

IN_AN_HOUR = datetime.now(UTC) + timedelta(hours=1)

BAD_TOKENS: dict[str, Callable[[Tokens], str]] = {
    "malformed": lambda t: "not.a.jwt",
    "garbage": lambda t: "%%%",
    "bad-signature": lambda t: t.sign(t.claims(), other_key=True),
    "tampered-claims": lambda t: _tampered(t.token()),
    "expired": lambda t: t.token(lifetime=timedelta(seconds=-60)),
    "not-yet-valid": lambda t: t.sign(t.claims(nbf=IN_AN_HOUR, exp=IN_AN_HOUR)),
    "no-exp": lambda t: t.sign({k: v for k, v in t.claims().items() if k != "exp"}),
    "wrong-issuer": lambda t: t.token(iss="https://elsewhere.test"),
    "no-issuer": lambda t: t.sign({k: v for k, v in t.claims().items() if k != "iss"}),
    "wrong-audience": lambda t: t.token(aud="another-api"),
    "alg-none": lambda t: t.unsigned(t.claims()),
    "hs256-keyed-with-the-public-key": lambda t: t.hs256_with_public_key(t.claims()),
}


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    return ".".join(
        [header, payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1], signature]
    )


async def test_no_authorization_header_is_401_with_a_bearer_challenge(api: Api) -> None:
    response = await api.call("GET", "/entries", anonymous=True)
    problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_another_scheme_is_401_with_a_bearer_challenge(api: Api) -> None:
    headers = {"authorization": "Basic dXNlcjpwYXNz"}
    response = await api.call("GET", "/entries", anonymous=True, headers=headers)
    problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_the_scheme_is_case_insensitive(api: Api) -> None:
    headers = {"authorization": f"bEaReR {api.tokens.token()}"}
    response = await api.call("GET", "/entries", anonymous=True, headers=headers)
    assert response.status_code == 200


async def test_an_empty_bearer_token_is_401(api: Api) -> None:
    response = await api.call(
        "GET", "/entries", anonymous=True, headers={"authorization": "Bearer"}
    )
    problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("make_token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
async def test_a_refused_token_is_401_invalid_token(
    api: Api, make_token: Callable[[Tokens], str]
) -> None:
    response = await api.call("GET", "/entries", token=make_token(api.tokens))
    problem(response, 401)
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_a_refused_token_records_nothing(api: Api) -> None:
    bad = BAD_TOKENS["bad-signature"](api.tokens)
    problem(await api.call("POST", "/entries", json=entry(), token=bad), 401)
    assert await api.items("/entries") == []


@pytest.mark.parametrize(
    ("method", "path", "scopes"),
    [
        ("POST", "/entries", [READ, ADMIN]),
        ("POST", "/entries/batch", [READ]),
        ("GET", "/entries", [WRITE]),
        ("GET", "/entries/{id}", [WRITE, ADMIN]),
        ("GET", "/entries/{id}/history", [WRITE]),
        ("PUT", "/entries/{id}", [READ, WRITE]),
        ("DELETE", "/entries/{id}", [READ, WRITE]),
    ],
)
async def test_a_missing_scope_is_403(api: Api, method: str, path: str, scopes: list[str]) -> None:
    stored = await api.record()
    body = {"entries": [entry()]} if path.endswith("batch") else entry()
    response = await api.call(method, path.format(id=stored["id"]), scopes=scopes, json=body)
    problem(response, 403)
    assert (await api.call("GET", f"/entries/{stored['id']}")).json() == stored


async def test_a_token_without_a_tenant_is_403(api: Api) -> None:
    token = api.tokens.token(tenant=None)
    problem(await api.call("GET", "/entries", token=token), 403)


async def test_scopes_may_come_as_a_list(api: Api) -> None:
    claims = api.tokens.claims(scope=None, scp=[READ, WRITE])
    response = await api.call("GET", "/entries", token=api.tokens.sign(claims))
    assert response.status_code == 200
