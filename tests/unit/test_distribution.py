"""What the package ships besides code: its type hints, and a licence matching its
metadata."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_says_it_is_typed() -> None:
    assert files("audit_trail").joinpath("py.typed").is_file()


def test_the_licence_file_is_the_licence_the_metadata_names() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert declared == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
