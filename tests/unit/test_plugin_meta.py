"""Every hook has tests and a section in docs/plugins.md; the built-ins are declared as
entry points; the guide's code runs."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import json
import re
import tomllib
import types
from pathlib import Path

import pytest

from audit_trail.core.ports import RequestContext
from audit_trail.core.usecases.change_reader import Change
from audit_trail.plugins import ENTRY_POINT_GROUP, hookspecs
from audit_trail.plugins.manager import build_plugin_manager, plugin_manager_for
from audit_trail.plugins.processor import PluggyEntryProcessor
from audit_trail.plugins.sinks import plugin_sinks
from tests.unit.test_plugin_support import BUILTIN_PLUGINS, make_entry

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "plugins.md"
HOOKS = sorted(
    name
    for name, value in vars(hookspecs).items()
    if name.startswith("audit_") and inspect.isfunction(value)
)


def test_the_hooks_are_found() -> None:
    assert "audit_enrich_entry" in HOOKS
    assert len(HOOKS) == 7


def _test_sources() -> str:
    files = (ROOT / "tests").rglob("test_*.py")
    return "\n".join(f.read_text() for f in files if f.name != Path(__file__).name)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    assert re.search(rf"\b{hook}\b", _test_sources()), f"no test file mentions {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_in_the_guide(hook: str) -> None:
    headings = [line for line in GUIDE.read_text().splitlines() if line.startswith("#")]
    assert any(hook in heading for heading in headings), f"docs/plugins.md: no section {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hookspec_says_its_contract(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc.splitlines()) >= 3
    assert re.search(r"[Rr]eturn|ignored", doc)


def test_pyproject_declares_the_builtins_as_entry_points() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = pyproject["project"].get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
    assert declared == BUILTIN_PLUGINS


def test_the_installed_package_provides_the_builtins() -> None:
    """Fails until the project is installed again after pyproject.toml declares them."""
    installed = {
        ep.name: ep.value
        for ep in importlib.metadata.distribution("audit-trail").entry_points
        if ep.group == ENTRY_POINT_GROUP
    }
    assert installed == BUILTIN_PLUGINS


@pytest.mark.parametrize("module", BUILTIN_PLUGINS.values())
def test_each_builtin_is_a_plugin_module(module: str) -> None:
    assert hasattr(importlib.import_module(module), "audit_configure")


# --- the guide's code ---------------------------------------------------------------------


def _python_block_after(heading: str) -> str:
    text = GUIDE.read_text()
    section = text[re.search(rf"\n#+ {re.escape(heading)}\n", text).start() :]  # type: ignore[union-attr]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, f"no python block under {heading!r}"
    return match.group(1)


async def test_the_sink_example_writes_one_line_per_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = types.ModuleType("jsonl_sink")
    source = _python_block_after("audit_forward_changes(tenant, changes)")
    exec(compile(source, str(GUIDE), "exec"), module.__dict__)  # noqa: S102
    monkeypatch.setenv("AUDIT_JSONL_PATH", str(tmp_path / "audit.jsonl"))
    (sink,) = plugin_sinks(plugin_manager_for(module))
    await sink.forward("acme", [Change(3, "record", {"id": "e-1"}), Change(4, "purge", {})])
    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert lines == [
        {"tenant": "acme", "index": 3, "kind": "record", "data": {"id": "e-1"}},
        {"tenant": "acme", "index": 4, "kind": "purge", "data": {}},
    ]


async def test_the_ten_line_plugin_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _python_block_after("A plugin in ten lines")
    assert len(source.strip().splitlines()) <= 10
    module = f"tutorial_plugin_{abs(hash(tmp_path))}"
    (tmp_path / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    processor = PluggyEntryProcessor(build_plugin_manager([module, "-deploy_label"]))
    prepared = await processor.prepare(make_entry(tags=()), RequestContext())
    assert "region:eu-west-1" in prepared.tags


def test_the_testing_example_runs() -> None:
    source = _python_block_after("Testing a plugin")
    exec(compile(source, str(GUIDE), "exec"), {"__name__": "guide_example"})  # noqa: S102
