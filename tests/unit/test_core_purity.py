"""The core imports only the standard library and itself (besides the import-linter
contract, which only knows the packages it is told to forbid)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import audit_trail.core

CORE = Path(audit_trail.core.__file__).parent
CORE_MODULES = sorted(CORE.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = ["audit_trail", "core", *path.relative_to(CORE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` (the text of ``module``) imports, as absolute names."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.add(node.module or "")
            else:  # relative: resolve against the importing package
                package = module.split(".")
                base = package if is_package else package[:-1]
                base = base[: len(base) - (node.level - 1)]
                found.add(".".join([*base, *([node.module] if node.module else [])]))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and (getattr(node.func, "id", None) or getattr(node.func, "attr", None))
            in {"__import__", "import_module"}
        ):
            found.add("<dynamic import>")
    return found


def is_allowed(name: str) -> bool:
    top = name.split(".", maxsplit=1)[0]
    return (
        top in sys.stdlib_module_names
        or name == "audit_trail.core"
        or (name.startswith("audit_trail.core."))
    )


def test_the_core_has_modules_to_check() -> None:
    names = {module_name(p) for p in CORE_MODULES}
    assert {"audit_trail.core", "audit_trail.core.validation", "audit_trail.core.usecases"} <= names


@pytest.mark.parametrize("path", CORE_MODULES, ids=module_name)
def test_core_modules_import_only_the_standard_library_and_the_core(path: Path) -> None:
    imports = imported_modules(
        path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py"
    )
    assert imports, "every core module imports something (at least __future__)"
    assert sorted(name for name in imports if not is_allowed(name)) == []


@pytest.mark.parametrize(
    ("source", "module", "offenders"),
    [
        ("import pymongo", "audit_trail.core.x", ["pymongo"]),
        ("from redis.asyncio import Redis", "audit_trail.core.x", ["redis.asyncio"]),
        ("from audit_trail.adapters import ids", "audit_trail.core.x", ["audit_trail.adapters"]),
        ("from audit_trail import entrypoints", "audit_trail.core.x", ["audit_trail"]),
        ("from ..adapters import clock", "audit_trail.core.x", ["audit_trail.adapters"]),
        ("from . import model", "audit_trail.core.x", []),
        ("from .ports import Clock", "audit_trail.core.usecases", []),
        (
            "import importlib\nimportlib.import_module('jwt')",
            "audit_trail.core.x",
            ["<dynamic import>"],
        ),
        ("def f():\n    import msgspec", "audit_trail.core.x", ["msgspec"]),
        ("import json, re\nfrom collections.abc import Mapping", "audit_trail.core.x", []),
    ],
)
def test_the_check_itself_tells_foreign_imports_apart(
    source: str, module: str, offenders: list[str]
) -> None:
    is_package = module == "audit_trail.core.usecases"
    imports = imported_modules(source, module, is_package)
    assert sorted(name for name in imports if not is_allowed(name)) == offenders
