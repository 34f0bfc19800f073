"""A three-member MongoDB replica set of real ``mongod`` processes on this machine.

Each member is a :class:`~tests.servers.MongodServer` on its own free port and data
folder; the set is initiated once, through the first member, with all three in the
config and short election settings, so a SIGKILLed primary is replaced within a few
seconds. All members have the same priority: a killed primary that comes back
rejoins as a secondary and does not take over again (which would be a second
failover). Members are signalled only by their own pid (see ``tests.servers``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from tests.servers import HOST, MongodServer, ServerStartError

__all__ = ["ELECTION_TIMEOUT_MS", "HEARTBEAT_INTERVAL_MS", "ReplicaSet", "ReplicaSetMember"]

ELECTION_TIMEOUT_MS = 1500
HEARTBEAT_INTERVAL_MS = 500


class ReplicaSetMember(MongodServer):
    """A ``mongod --replSet`` that waits to be initiated by :class:`ReplicaSet`.

    Ready means "answers on its port"; it never initiates a one-member set itself.
    A SIGTERM stops it within half a second: the default quiesce period of a
    replica-set member (``shutdownTimeoutMillisForSignaledShutdown``, 15 s) would make
    stopping a set take most of a minute.
    """

    def _command(self) -> Sequence[str]:
        return [
            *super()._command(),
            "--setParameter",
            "shutdownTimeoutMillisForSignaledShutdown=500",
        ]

    def _wait_until_ready(self, deadline: float) -> None:
        client = self._direct_client()
        try:
            self._wait_for_ping(client, deadline)
        finally:
            client.close()

    def state(self) -> str:
        """``PRIMARY``, ``SECONDARY``, ... as this member sees itself, or ``DOWN``."""
        client = self._direct_client()
        try:
            hello = client.admin.command("hello")
        except PyMongoError:
            return "DOWN"
        finally:
            client.close()
        if hello.get("isWritablePrimary"):
            return "PRIMARY"
        if hello.get("secondary"):
            return "SECONDARY"
        return "OTHER"


class ReplicaSet:
    """Three ``mongod`` members of the set ``name``; ``uri`` names all three."""

    def __init__(self, folder: Path, *, name: str = "drill", members: int = 3) -> None:
        self.name = name
        self.members = [
            ReplicaSetMember(Path(folder) / f"member{n}", replica_set=name) for n in range(members)
        ]

    @property
    def uri(self) -> str:
        hosts = ",".join(f"{HOST}:{member.port}" for member in self.members)
        return f"mongodb://{hosts}/?replicaSet={self.name}"

    def start(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        try:
            for member in self.members:
                member.start(timeout=max(1.0, deadline - time.monotonic()))
            self._initiate()
            self.wait_for_primary(timeout=max(1.0, deadline - time.monotonic()))
            self.wait_for_secondaries(timeout=max(1.0, deadline - time.monotonic()))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM every member by pid, all at once, and wait for each."""
        threads = [threading.Thread(target=member.stop) for member in self.members]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _initiate(self) -> None:
        config = {
            "_id": self.name,
            "members": [
                {"_id": n, "host": f"{HOST}:{member.port}", "priority": 1}
                for n, member in enumerate(self.members)
            ],
            "settings": {
                "electionTimeoutMillis": ELECTION_TIMEOUT_MS,
                "heartbeatIntervalMillis": HEARTBEAT_INTERVAL_MS,
            },
        }
        with self._client(self.members[0]) as client:
            try:
                client.admin.command("replSetInitiate", config)
            except OperationFailure as exc:
                if exc.code != 23:  # AlreadyInitialized
                    raise ServerStartError(f"replSetInitiate refused: {exc}") from exc

    @staticmethod
    def _client(member: MongodServer) -> MongoClient[dict[str, Any]]:
        return MongoClient(
            HOST,
            member.port,
            directConnection=True,
            serverSelectionTimeoutMS=1000,
            connectTimeoutMS=1000,
            socketTimeoutMS=10_000,
        )

    def states(self) -> list[str]:
        return [member.state() if member.running else "DOWN" for member in self.members]

    def primary(self) -> ReplicaSetMember | None:
        for member in self.members:
            if member.running and member.state() == "PRIMARY":
                return member
        return None

    def wait_for_primary(
        self, timeout: float = 30.0, *, exclude: Sequence[MongodServer] = ()
    ) -> ReplicaSetMember:
        """The member that is PRIMARY (and not in ``exclude``), once there is one."""
        deadline = time.monotonic() + timeout
        while True:
            primary = self.primary()
            if primary is not None and primary not in exclude:
                return primary
            if time.monotonic() > deadline:
                raise ServerStartError(f"no PRIMARY in {self.name} within {timeout}s: {self}")
            time.sleep(0.1)

    def wait_for_secondaries(self, timeout: float = 30.0) -> None:
        """Until every running member is PRIMARY or SECONDARY."""
        deadline = time.monotonic() + timeout
        while True:
            running = [m.state() for m in self.members if m.running]
            if running.count("PRIMARY") == 1 and set(running) <= {"PRIMARY", "SECONDARY"}:
                return
            if time.monotonic() > deadline:
                raise ServerStartError(f"members of {self.name} not all up: {self}")
            time.sleep(0.1)

    def __enter__(self) -> Self:
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
        members = ", ".join(
            f"{member.port}:{state}"
            for member, state in zip(self.members, self.states(), strict=True)
        )
        return f"<ReplicaSet {self.name} {members}>"
