"""Which addresses a webhook may be sent to (SSRF): a host is resolved, and every
address it resolves to must be a public one (not private, loopback, link-local,
multicast, reserved or unspecified) unless private addresses are allowed."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from audit_trail.core.errors import UnsafeWebhookUrl

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def refused(address: Address) -> str | None:
    """Why ``address`` may not be called, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refused(address.ipv4_mapped)
    for reason in (
        "loopback",
        "private",
        "link_local",
        "multicast",
        "reserved",
        "unspecified",
    ):
        if getattr(address, f"is_{reason}"):
            return reason.replace("_", "-")
    if not address.is_global:
        return "not global"
    return None


async def resolve(host: str, port: int, *, allow_private: bool) -> list[Address]:
    """The addresses of ``host`` (an IP literal is its own), every one checked;
    ``UnsafeWebhookUrl`` when one is refused or none is found."""
    try:
        addresses: list[Address] = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise UnsafeWebhookUrl(f"the host {host!r} does not resolve: {exc}") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not addresses:
        raise UnsafeWebhookUrl(f"the host {host!r} does not resolve")
    if not allow_private:
        for address in addresses:
            reason = refused(address)
            if reason is not None:
                raise UnsafeWebhookUrl(
                    f"the host {host!r} resolves to {address}, a {reason} address; webhooks"
                    " go to public addresses only (AUDIT_WEBHOOK_ALLOW_PRIVATE=true allows it)"
                )
    return addresses
