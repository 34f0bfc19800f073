"""Finding, enabling, disabling, configuring and describing plugins."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from audit_trail.core.ports import RequestContext
from audit_trail.entrypoints.cli import main
from audit_trail.entrypoints.settings import Settings
from audit_trail.plugins import PluginSetupError
from audit_trail.plugins.manager import build_plugin_manager, describe_plugins, plugin_config
from audit_trail.plugins.processor import PluggyEntryProcessor
from tests.unit.test_plugin_support import BUILTIN_PLUGINS, builtin_manager, make_entry

WriteModule = Callable[[str, str], str]

TAGGER = """
from audit_trail.plugins import hookimpl

@hookimpl
def audit_enrich_entry():
    return {"tags": ["tagged"]}
"""


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WriteModule:
    """Writes an importable module; returns its name (unique per test)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    prefix = f"plugin_{abs(hash(tmp_path))}_"

    def write(name: str, source: str) -> str:
        module = prefix + name
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        return module

    return write


async def tags_of(enable: list[str], config: dict[str, Any] | None = None) -> tuple[str, ...]:
    processor = PluggyEntryProcessor(build_plugin_manager(enable, config))
    return (await processor.prepare(make_entry(tags=()), RequestContext())).tags


async def test_a_module_path_enables_a_plugin(write_module: WriteModule) -> None:
    module = write_module("tagger", TAGGER)
    assert await tags_of([module, "-deploy_label"]) == ("tagged",)


async def test_enabling_a_module_twice_registers_it_once(write_module: WriteModule) -> None:
    module = write_module("tagger", TAGGER)
    pm = build_plugin_manager([module, f" {module} "])
    assert [name for name, _ in pm.list_name_plugin()].count(module) == 1


async def test_minus_a_module_path_disables_it(write_module: WriteModule) -> None:
    module = write_module("tagger", TAGGER)
    assert await tags_of([module, f"-{module}", "-deploy_label"]) == ()


async def test_an_installed_plugin_loads_by_entry_point_and_minus_its_name_disables_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEPLOY_LABEL", "unit")  # the example plugin, installed editable
    assert await tags_of([]) == ("deploy:unit",)
    assert await tags_of(["-deploy_label"]) == ()
    # also given by module path: still registered once, under its entry-point name
    pm = build_plugin_manager(["audit_trail_deploy_label"])
    assert pm.has_plugin("deploy_label")
    assert not pm.has_plugin("audit_trail_deploy_label")


def test_a_builtin_can_be_disabled_like_any_plugin() -> None:
    pm = builtin_manager("-audit_trail.plugins.builtin.pii", "-pii")
    names = {info.name for info in describe_plugins(pm)}
    assert not any("pii" in name for name in names)
    assert any("request_context" in name for name in names)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            """
            from audit_trail.plugins import hookimpl

            @hookimpl
            def audit_enrich_entri(entry):
                return None
            """,
            "audit_enrich_entri",
        ),
        (
            """
            from audit_trail.plugins import hookimpl

            @hookimpl
            def audit_validate_entry(entry, tenant):
                return None
            """,
            "tenant",
        ),
    ],
    ids=["unknown hook", "unknown argument"],
)
def test_an_invalid_plugin_stops_start_up_naming_it(
    write_module: WriteModule, source: str, message: str
) -> None:
    module = write_module("invalid", source)
    with pytest.raises(PluginSetupError) as stopped:
        build_plugin_manager([module])
    assert message in str(stopped.value)
    assert module in str(stopped.value)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("no_such_plugin_module", "cannot import module 'no_such_plugin_module'"),
        ("not a module", "neither a module path"),
        ("-", "neither a module path"),
    ],
)
def test_a_bad_plugins_setting_stops_start_up(item: str, message: str) -> None:
    with pytest.raises(PluginSetupError, match=message):
        build_plugin_manager([item])


def test_disabling_an_unknown_plugin_is_only_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    build_plugin_manager(["-no_such_plugin"])
    assert "no plugin named 'no_such_plugin' to disable" in caplog.text


# --- audit_configure -------------------------------------------------------------------

CONFIGURED = """
from audit_trail.plugins import hookimpl

class Tagger:
    def __init__(self, tag):
        self.tag = tag

    @hookimpl
    def audit_enrich_entry(self):
        return {"tags": [self.tag]}

@hookimpl
def audit_configure(config):
    return Tagger(config["label"])
"""


async def test_configure_returns_the_plugin_that_serves_this_service(
    write_module: WriteModule,
) -> None:
    module = write_module("configured", CONFIGURED)
    # two managers in one process keep their own configuration
    first = PluggyEntryProcessor(build_plugin_manager([module], {"label": "one"}))
    second = PluggyEntryProcessor(build_plugin_manager([module], {"label": "two"}))
    assert (await first.prepare(make_entry(tags=()), RequestContext())).tags == ("one",)
    assert (await second.prepare(make_entry(tags=()), RequestContext())).tags == ("two",)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("raise ValueError('AUDIT_LABEL: must be short')", "refused its configuration"),
        (
            "from audit_trail.plugins import PluginSetupError\n"
            "    raise PluginSetupError('AUDIT_LABEL: must be short')",
            "AUDIT_LABEL: must be short",
        ),
        ("import asyncio\n    return asyncio.sleep(0)", "must not be async"),
    ],
    ids=["ValueError", "PluginSetupError", "awaitable"],
)
def test_a_plugin_refusing_its_configuration_stops_start_up(
    write_module: WriteModule, body: str, message: str
) -> None:
    module = write_module(
        "refusing",
        "from audit_trail.plugins import hookimpl\n\n"
        f"@hookimpl\ndef audit_configure():\n    {body}\n",
    )
    with pytest.raises(PluginSetupError, match=message):
        build_plugin_manager([module])


def test_configure_cannot_be_a_wrapper(write_module: WriteModule) -> None:
    module = write_module(
        "wrapping",
        """
        from audit_trail.plugins import hookimpl

        @hookimpl(wrapper=True)
        def audit_configure():
            return (yield)
        """,
    )
    with pytest.raises(PluginSetupError, match="cannot be a wrapper"):
        build_plugin_manager([module])


def test_plugins_get_the_settings_without_secrets() -> None:
    settings = Settings(
        jwt_secret="s" * 32,
        cursor_secret="c" * 32,
        mongo_uri="mongodb://user:pw@127.0.0.1",
        redis_url="redis://:pw@127.0.0.1",
        pii_fields=("customer.phone",),
    )
    config = plugin_config(settings)
    assert config["pii_fields"] == ("customer.phone",)
    for secret in ("jwt_secret", "cursor_secret", "mongo_uri", "redis_url"):
        assert secret not in config
    with pytest.raises(TypeError):
        config["pii_fields"] = ()  # type: ignore[index]


# --- describing -------------------------------------------------------------------------


def test_describe_lists_each_plugin_with_its_hooks_and_distribution(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEPLOY_LABEL", "unit")
    pm = build_plugin_manager(list(BUILTIN_PLUGINS.values()))
    infos = {info.name: info for info in describe_plugins(pm)}
    pii = next(info for name, info in infos.items() if name.endswith("pii"))
    assert pii.hooks == ("audit_configure", "audit_redact_entry", "audit_redact_for_reader")
    context = next(info for name, info in infos.items() if name.endswith("request_context"))
    assert context.hooks == ("audit_configure", "audit_enrich_entry")
    label = infos["deploy_label"]
    assert (label.dist, label.version) == ("audit-trail-deploy-label", "0.1.0")
    assert label.hooks == ("audit_configure", "audit_enrich_entry", "audit_validate_entry")
    assert not any(name.endswith(":configured") for name in infos)


def test_the_cli_prints_one_line_per_plugin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUDIT_PLUGINS", ",".join([*BUILTIN_PLUGINS.values(), "-deploy_label"]))
    assert main(["plugins"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    syslog = next(line for line in lines if "syslog" in line)
    assert syslog.endswith(": audit_configure")  # no AUDIT_SYSLOG_URL: no sink
    pii = next(line for line in lines if "pii" in line)
    assert pii.endswith(": audit_configure, audit_redact_entry, audit_redact_for_reader")


def test_the_cli_reports_a_plugin_that_cannot_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUDIT_PLUGINS", "no_such_plugin_module")
    assert main(["plugins"]) == 2
    assert "cannot import module 'no_such_plugin_module'" in capsys.readouterr().err
