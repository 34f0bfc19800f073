"""The verifier's memory between runs: the key trusted per service, and the last
verified checkpoint per log origin, in one JSON file.

Every run checks the new checkpoint against the saved one (a consistency proof), so a
service that rewrites or rolls back a log it has shown before is caught. The file is
written atomically (a temporary file renamed over it), mode 0600.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit_trail.core.integrity import Checkpoint, NoteError

STATE_VERSION = 1


class StateError(ValueError):
    """The state file cannot be read or does not hold what this verifier wrote."""


@dataclass(slots=True)
class VerifyState:
    keys: dict[str, str] = field(default_factory=dict)  # service URL -> vkey trusted
    checkpoints: dict[str, Checkpoint] = field(default_factory=dict)  # origin -> last verified
    notes: dict[str, str] = field(default_factory=dict)  # origin -> its signed note

    @classmethod
    def load(cls, path: Path) -> VerifyState:
        """The state in ``path``; an empty one when the file does not exist."""
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise StateError(f"cannot read {path}: {exc.strerror}") from None
        try:
            data = json.loads(raw)
            if data.get("version") != STATE_VERSION:
                raise StateError(f"{path}: not a version {STATE_VERSION} verifier state")
            state = cls(keys=dict(data.get("keys", {})))
            for origin, saved in data.get("checkpoints", {}).items():
                root = base64.b64decode(saved["root"], validate=True)
                state.checkpoints[origin] = Checkpoint(origin, int(saved["size"]), root)
                if isinstance(saved.get("note"), str):
                    state.notes[origin] = saved["note"]
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, NoteError):
            raise StateError(f"{path} is not a verifier state file") from None
        return state

    def remember(self, checkpoint: Checkpoint, note: str) -> None:
        self.checkpoints[checkpoint.origin] = checkpoint
        self.notes[checkpoint.origin] = note

    def save(self, path: Path) -> None:
        data: dict[str, Any] = {
            "version": STATE_VERSION,
            "keys": self.keys,
            "checkpoints": {
                origin: {
                    "size": cp.size,
                    "root": base64.b64encode(cp.root).decode("ascii"),
                    "note": self.notes.get(origin),
                }
                for origin, cp in sorted(self.checkpoints.items())
            },
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(data, file, indent=2, sort_keys=True)
            file.write("\n")
        temporary.replace(path)


def default_state_path() -> Path:
    """``$XDG_CONFIG_HOME/audit-trail/verify-state.json`` (``~/.config`` by default)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "audit-trail" / "verify-state.json"
