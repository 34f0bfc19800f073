"""The real test servers start, serve, survive restarts and come back."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pymongo import WriteConcern

from tests.servers import MongodServer, RedisServer, ServerStartError


@pytest.fixture
def own_replset(tmp_path: Path) -> Iterator[MongodServer]:
    """A replica set of this test alone, free to be killed and restarted."""
    with MongodServer(tmp_path / "mongod", replica_set="rs0") as server:
        yield server


def test_mongod_insert_and_find_round_trip(mongod_server: MongodServer) -> None:
    with mongod_server.client() as client:
        events = client["servers_test"]["events"]
        result = events.insert_one({"actor": "alice", "action": "create"})
        found = events.find_one({"_id": result.inserted_id})
    assert found is not None
    assert found["actor"] == "alice"
    assert found["action"] == "create"


def test_replset_commits_and_aborts_multi_document_transactions(
    mongod_replset: MongodServer,
) -> None:
    with mongod_replset.client() as client:
        hello = client.admin.command("hello")
        assert hello["setName"] == "rs0"
        assert hello["isWritablePrimary"] is True
        coll = client["servers_test"]["txn"]
        coll.drop()
        coll.insert_one({"_id": "seed"})  # create the collection outside the transaction
        with client.start_session() as session:
            with session.start_transaction():
                coll.insert_one({"_id": "a"}, session=session)
                coll.insert_one({"_id": "b"}, session=session)
                # Not visible outside the transaction before commit.
                assert coll.count_documents({}) == 1
            assert coll.count_documents({}) == 3
            with session.start_transaction():
                coll.insert_one({"_id": "c"}, session=session)
                session.abort_transaction()
        assert sorted(doc["_id"] for doc in coll.find()) == ["a", "b", "seed"]


def test_durable_write_survives_sigkill_and_restart(own_replset: MongodServer) -> None:
    port, pid = own_replset.port, own_replset.pid
    with own_replset.client() as client:
        coll = client["servers_test"].get_collection(
            "durable", write_concern=WriteConcern(w="majority", j=True)
        )
        coll.insert_one({"_id": "kept", "note": "written with w=majority, j=true"})

    own_replset.kill()
    assert own_replset.returncode == -signal.SIGKILL
    own_replset.start()
    assert own_replset.port == port
    assert own_replset.pid != pid

    with own_replset.client() as client:
        found = client["servers_test"]["durable"].find_one({"_id": "kept"})
    assert found is not None
    assert found["note"] == "written with w=majority, j=true"


def test_mongod_stop_then_restart_keeps_data(tmp_path: Path) -> None:
    with MongodServer(tmp_path / "mongod") as server:
        with server.client() as client:
            client["servers_test"]["c"].insert_one({"_id": 1})
        server.stop()
        assert server.returncode == 0
        server.restart()
        with server.client() as client:
            assert client["servers_test"]["c"].find_one({"_id": 1}) == {"_id": 1}


def test_redis_set_get(redis_server: RedisServer) -> None:
    with redis_server.client() as client:
        assert client.set("servers_test:key", "value") is True
        assert client.get("servers_test:key") == b"value"


def test_redis_stop_then_start_on_same_port(own_redis: RedisServer) -> None:
    port = own_redis.port
    with own_redis.client() as client:
        client.set("servers_test:gone", "soon")
        own_redis.stop()
        assert not own_redis.running
        with pytest.raises(redis.ConnectionError):
            client.ping()
        own_redis.start()
        assert own_redis.port == port
        assert own_redis.url == f"redis://127.0.0.1:{port}/0"
        assert client.ping() is True
        # No persistence: a restarted server starts empty.
        assert client.get("servers_test:gone") is None


def test_start_failure_raises_with_log_tail(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "first") as blocker:
        second_redis = RedisServer(tmp_path / "second", port=blocker.port)
        with pytest.raises(ServerStartError, match="Address already in use"):
            second_redis.start(timeout=20)
        assert not second_redis.running

        mongod = MongodServer(tmp_path / "mongod", port=blocker.port)
        with pytest.raises(ServerStartError, match=r"(?s)errors in mongod\.log.*in use"):
            mongod.start(timeout=20)
        assert not mongod.running
        assert mongod.returncode == 48  # mongod's exit code for a listener error

        assert blocker.running
