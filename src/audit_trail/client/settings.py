"""What both clients are built from: the service's URL, credentials, timeout and
retry policy, the pinned verifier key; and the operations over them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypedDict, TypeVar, Unpack

import httpx

from audit_trail.client.flows import TokenSource
from audit_trail.client.operations import Operations
from audit_trail.client.retry import RetryPolicy

DEFAULT_TIMEOUT = 10.0
HEADERS = {"user-agent": "audit-trail-client/0.1"}


class HttpOptions(TypedDict):
    """What the clients open their ``httpx.Client`` or ``httpx.AsyncClient`` with."""

    base_url: str
    timeout: float | httpx.Timeout
    headers: dict[str, str]


class ClientOptions(TypedDict, total=False):
    """The clients' keyword options (see ``ClientSettings``)."""

    timeout: float | httpx.Timeout
    retries: int | RetryPolicy
    vkey: str | None


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """``base_url``: the service's root (the client adds ``/apiv3/audit_trail``);
    ``token``: a bearer token, or a callable that returns a fresh one for each
    attempt; ``retries``: how many times a failed request is tried again (or a whole
    ``RetryPolicy``); ``vkey``: the verifier key to trust for proofs (None: the one
    the service serves, fetched on first use)."""

    base_url: str
    token: TokenSource = None
    timeout: float | httpx.Timeout = DEFAULT_TIMEOUT
    retries: int | RetryPolicy = 3
    vkey: str | None = None

    def operations(self) -> Operations:
        policy = self.retries
        if not isinstance(policy, RetryPolicy):
            policy = RetryPolicy(attempts=policy + 1)
        return Operations(self.token, policy, self.vkey)

    def http_options(self) -> HttpOptions:
        return {"base_url": self.base_url, "timeout": self.timeout, "headers": dict(HEADERS)}


X = TypeVar("X")  # the transport
H = TypeVar("H")  # the httpx client


class ClientBase(Generic[X, H]):
    """The constructor of both clients: ``transport``, any httpx transport of the
    client's kind (e.g. the fake's); ``options``: see ``ClientSettings``."""

    def __init__(
        self,
        base_url: str,
        token: TokenSource = None,
        *,
        transport: X | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        settings = ClientSettings(base_url, token, **options)
        self._ops = settings.operations()
        self._http: H = self._open(transport, settings.http_options())

    def _open(self, transport: X | None, options: HttpOptions) -> H:
        raise NotImplementedError
