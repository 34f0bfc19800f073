"""Key files created once, privately, even when several processes start at once."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)


def create_private_file(path: Path, content: bytes) -> bool:
    """Write ``content`` to ``path`` unless it exists: mode 0600, in a folder created
    0700 if needed, linked in atomically so that of racing processes exactly one wins
    and none replaces an existing file. Whether this call created it."""
    make_private_dir(path.parent)
    candidate = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    created = False
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
        with contextlib.suppress(FileExistsError):  # another process was first: use its key
            os.link(candidate, path)
            created = True
    finally:
        candidate.unlink(missing_ok=True)
    return created


def make_private_dir(directory: Path) -> None:
    if directory.exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)


def tighten_private_file(path: Path, what: str) -> None:
    """Set a key file that others may read back to 0600, saying so."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "the %s file %s was readable by others (mode %o); set it to 0600", what, path, mode
        )
        path.chmod(0o600)
