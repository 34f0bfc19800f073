"""The built-in request_context plugin: source.ip and source.user_agent."""

from __future__ import annotations

import re

import pytest

from audit_trail.core import Source
from audit_trail.core.ports import RequestContext
from audit_trail.plugins import PluginSetupError
from audit_trail.plugins.processor import PluggyEntryProcessor
from tests.unit.test_plugin_support import builtin_manager, make_entry

PROXIES = ("10.0.0.0/8", "192.0.2.7", "2001:db8::/32")


async def source_of(
    peer: str | None, headers: dict[str, str], trusted: tuple[str, ...] = PROXIES
) -> Source:
    manager = builtin_manager(config={"trusted_proxies": trusted})
    context = RequestContext(client_ip=peer, headers=headers)
    return (await PluggyEntryProcessor(manager).prepare(make_entry(), context)).source


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # no proxy: the peer, whatever the header says
        ("203.0.113.5", None, "203.0.113.5"),
        ("203.0.113.5", "198.51.100.1", "203.0.113.5"),
        # a trusted proxy: the right-most address that is not a trusted proxy
        ("10.1.2.3", "198.51.100.1", "198.51.100.1"),
        ("10.1.2.3", "6.6.6.6, 198.51.100.1, 10.9.9.9", "198.51.100.1"),
        ("192.0.2.7", "198.51.100.1,192.0.2.7", "198.51.100.1"),
        # every hop trusted: the left-most
        ("10.1.2.3", "10.0.0.9, 10.0.0.8", "10.0.0.9"),
        # garbage stops the walk at the proxy that passed it on
        ("10.1.2.3", "198.51.100.1, not-an-ip, 10.0.0.8", "10.0.0.8"),
        # ports, brackets, IPv6 and IPv4-mapped peers
        ("10.1.2.3", "198.51.100.1:4711", "198.51.100.1"),
        ("2001:db8::1", "[2001:db8:ffff::9]:443, 2001:db8::2", "2001:db8:ffff::9"),
        ("2001:db8::1", "2a00:1450::1", "2a00:1450::1"),
        ("::ffff:10.1.2.3", "198.51.100.1", "198.51.100.1"),
        # a peer that is no address at all
        ("testclient", "198.51.100.1", None),
        (None, "198.51.100.1", None),
    ],
)
async def test_source_ip(peer: str | None, forwarded_for: str | None, client: str | None) -> None:
    headers = {} if forwarded_for is None else {"x-forwarded-for": forwarded_for}
    assert (await source_of(peer, headers)).ip == client


async def test_without_trusted_proxies_the_header_is_ignored() -> None:
    source = await source_of("10.1.2.3", {"x-forwarded-for": "198.51.100.1"}, trusted=())
    assert source.ip == "10.1.2.3"


async def test_user_agent_is_kept_clean_and_short() -> None:
    agent = "Mozilla/5.0 \x00\x1b[31m" + "x" * 1000
    source = await source_of("203.0.113.5", {"user-agent": agent})
    assert source.user_agent is not None
    assert source.user_agent.startswith("Mozilla/5.0 [31mxxx")
    assert len(source.user_agent) == 256
    assert (await source_of("203.0.113.5", {})).user_agent is None


def test_a_bad_trusted_proxy_stops_start_up() -> None:
    with pytest.raises(PluginSetupError, match=re.escape("TRUSTED_PROXIES: '10.0.0.0/33'")):
        builtin_manager(config={"trusted_proxies": ("10.0.0.0/33",)})
