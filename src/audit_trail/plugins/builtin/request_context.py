"""Built-in plugin ``request_context``: where an entry came from (``source``).

``source.ip`` is the peer address of the connection. When the peer is one of the
trusted proxies (setting ``trusted_proxies``: addresses or CIDR ranges), the
``X-Forwarded-For`` header is read from the right, skipping trusted proxies; the first
untrusted address is the client (all trusted: the left-most one; an entry that is not
an address stops the walk at the proxy that reported it). Without a trusted peer the
header is ignored, so clients cannot forge their address. ``source.user_agent`` is the
``User-Agent`` header without control characters, cut to 256 characters.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from audit_trail.core.ports.processor import RequestContext
from audit_trail.plugins.errors import PluginSetupError
from audit_trail.plugins.hookspecs import Enrichment, hookimpl

MAX_USER_AGENT_LENGTH = 256

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """The trusted proxies as networks; ``PluginSetupError`` naming a bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise PluginSetupError(
                f"AUDIT_TRUSTED_PROXIES: {value!r} is not an IP address or CIDR range"
            ) from None
    return tuple(networks)


def parse_address(text: str | None) -> Address | None:
    """An address as peers and ``X-Forwarded-For`` write it (``1.2.3.4``,
    ``1.2.3.4:5678``, ``2001:db8::1``, ``[2001:db8::1]:443``); None if it is not one.
    IPv4-mapped IPv6 addresses become IPv4."""
    if not text:
        return None
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=1024)  # every entry of a batch, and a client's requests, repeat it
def client_address(
    peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]
) -> str | None:
    """The client's address (see the module docstring)."""
    client = parse_address(peer)
    if client is None or not forwarded_for or not _is_trusted(client, trusted):
        return None if client is None else str(client)
    for hop in reversed(forwarded_for.split(",")):
        address = parse_address(hop)
        if address is None:
            break
        client = address
        if not _is_trusted(address, trusted):
            break
    return str(client)


def _is_trusted(address: Address, trusted: tuple[Network, ...]) -> bool:
    return any(address in network for network in trusted)


def user_agent(headers: Mapping[str, str]) -> str | None:
    return _printable_user_agent(headers.get("user-agent", ""))


@functools.lru_cache(maxsize=1024)
def _printable_user_agent(raw: str) -> str | None:
    cleaned = raw if raw.isprintable() else "".join(ch for ch in raw if ch.isprintable())
    return cleaned.strip()[:MAX_USER_AGENT_LENGTH] or None


class RequestContextEnricher:
    """Sets ``source.ip`` and ``source.user_agent``. ``tryfirst``, so that any other
    enrichment plugin that sets them wins."""

    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self.trusted = parse_networks(trusted_proxies)

    @hookimpl(tryfirst=True)
    def audit_enrich_entry(self, request: RequestContext) -> Enrichment:
        forwarded = request.headers.get("x-forwarded-for")
        return {
            "source": {
                "ip": client_address(request.client_ip, forwarded, self.trusted),
                "user_agent": user_agent(request.headers),
            }
        }


@hookimpl
def audit_configure(config: Mapping[str, Any]) -> RequestContextEnricher:
    return RequestContextEnricher(config.get("trusted_proxies", ()))
