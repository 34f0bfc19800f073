"""The connection bounds of ``audit-trail serve`` (docs/operations.md, "Limits"), from
raw sockets: what a client sending too much, too slowly or framed two ways gets, on
both apps and both of uvicorn's HTTP parsers."""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.integration.test_cli_serve import API, ENTRY, Service, cli, environment, serving

SRC = Path(__file__).resolve().parents[2] / "src"
HEADER_TIMEOUT = 2.0
REQUEST_TIMEOUT = 4.0
SLACK = 4.0  # a loaded machine: the bound plus this is still far below "for ever"

pytestmark = pytest.mark.timeout(180)

APPS_AND_PARSERS = [
    pytest.param(app, parser, id=f"{app}-{parser}")
    for app in ("quart", "litestar")
    for parser in ("httptools", "h11")
]


def bounded_environment(home: Path, **settings: str) -> dict[str, str]:
    return environment(
        home,
        PYTHONPATH=str(SRC),  # this checkout's code, whatever the venv has installed
        AUDIT_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT),
        AUDIT_REQUEST_TIMEOUT_SECONDS=str(REQUEST_TIMEOUT),
        AUDIT_STORAGE="memory",
        **settings,
    )


@contextmanager
def bounded_service(app: str, parser: str, tmp_path: Path) -> Iterator[Service]:
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = bounded_environment(tmp_path)
    with serving(app, workdir, env, "--http", parser) as service:
        yield service


def exchange(service: Service, request: bytes, timeout: float = 10.0) -> bytes:
    """Everything the server answers to ``request`` until it closes the connection."""
    host, port = service.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length, read off a kept-alive connection."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def status_and_problem(answer: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"application/problem+json" in head.lower(), answer
    return status, json.loads(body)


async def slow_client(port: int, interval: float = 0.5) -> float:
    """Sends a request's head a byte every ``interval`` seconds; the seconds until the
    server closed the connection."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET " + API.encode() + b"/check-port HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        while not reader.at_eof():
            writer.write(b"a")
            await writer.drain()
            try:
                await asyncio.wait_for(reader.read(65536), interval)
            except TimeoutError:
                continue
            if time.monotonic() - started > HEADER_TIMEOUT + 60:
                break
    except ConnectionError:
        pass
    finally:
        writer.close()
    return time.monotonic() - started


@pytest.mark.parametrize(("app", "parser"), APPS_AND_PARSERS)
def test_oversized_head_and_double_framing_are_refused(
    app: str, parser: str, tmp_path: Path
) -> None:
    with bounded_service(app, parser, tmp_path) as service:
        big = b"GET " + API.encode() + b"/check-port HTTP/1.1\r\nHost: x\r\n"
        big += b"X-Big: " + b"a" * 10_240 + b"\r\n\r\n"
        status, problem = status_and_problem(exchange(service, big))
        assert (status, problem["status"]) == (431, 431)
        assert "8192 bytes" in str(problem["detail"])

        smuggled = (
            b"POST " + API.encode() + b"/entries HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        )
        status, problem = status_and_problem(exchange(service, smuggled))
        assert status == 400
        assert "Transfer-Encoding" in str(problem["detail"])

        # a head just under the bound is served
        fits = b"GET " + API.encode() + b"/check-port HTTP/1.1\r\nHost: x\r\n"
        fits += b"X-Fits: " + b"a" * 7_000 + b"\r\nConnection: close\r\n\r\n"
        assert exchange(service, fits).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize(("app", "parser"), APPS_AND_PARSERS)
def test_slow_heads_are_cut_off_while_others_are_served(
    app: str, parser: str, tmp_path: Path
) -> None:
    with bounded_service(app, parser, tmp_path) as service:
        port = int(service.url.rsplit(":", 1)[1])

        async def scenario() -> tuple[list[float], float]:
            slow = [asyncio.create_task(slow_client(port)) for _ in range(300)]
            await asyncio.sleep(0.5)
            started = time.monotonic()
            async with httpx.AsyncClient(base_url=service.url, timeout=10) as client:
                answer = await client.get(f"{API}/check-port")
            assert answer.status_code == 200
            served_in = time.monotonic() - started
            return await asyncio.gather(*slow), served_in

        durations, served_in = asyncio.run(scenario())
        assert served_in < 2.0
        assert max(durations) < HEADER_TIMEOUT + SLACK, max(durations)
        assert min(durations) >= HEADER_TIMEOUT - 0.5


@pytest.mark.parametrize(("app", "parser"), APPS_AND_PARSERS)
def test_a_body_sent_in_pieces_is_read_and_a_slow_body_is_cut_off(
    app: str, parser: str, tmp_path: Path
) -> None:
    with bounded_service(app, parser, tmp_path) as service:
        env = bounded_environment(tmp_path)
        minted = cli(
            tmp_path / "work", env, "token", "--sub", "a", "--tenant", "t", "--scope", "audit:write"
        )
        assert minted.returncode == 0, minted.stderr
        body = json.dumps(ENTRY).encode()
        head = (
            f"POST {API}/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {minted.stdout.strip()}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        host, port = service.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            for _ in range(2):  # two requests on one connection, each head and body apart
                sock.sendall(head)
                time.sleep(0.3)
                sock.sendall(body[:10])
                time.sleep(0.3)
                sock.sendall(body[10:])
                assert read_response(sock).startswith(b"HTTP/1.1 201"), service.output()

        started = time.monotonic()
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(head)
            answer = b""
            try:
                for byte in body:
                    sock.sendall(bytes([byte]))
                    time.sleep(0.5)
                    if time.monotonic() - started > REQUEST_TIMEOUT + SLACK:
                        break
            except ConnectionError:
                pass
            while chunk := sock.recv(65536):
                answer += chunk
        assert time.monotonic() - started < REQUEST_TIMEOUT + SLACK
        status, problem = status_and_problem(answer)
        assert (status, problem["status"]) == (408, 408)


@pytest.mark.parametrize("app", ["quart", "litestar"])
def test_more_slow_connections_than_descriptors_get_503_not_a_flood_of_errors(
    app: str, tmp_path: Path
) -> None:
    with bounded_service(app, "auto", tmp_path) as service:
        resource.prlimit(service.process.pid, resource.RLIMIT_NOFILE, (200, 200))
        port = int(service.url.rsplit(":", 1)[1])
        log_size = service.log.stat().st_size

        async def scenario() -> list[int]:
            slow = [asyncio.create_task(slow_client(port)) for _ in range(500)]
            await asyncio.sleep(1.0)
            statuses = []
            async with httpx.AsyncClient(base_url=service.url, timeout=5) as client:
                for _ in range(int(HEADER_TIMEOUT + SLACK)):
                    answer = await client.get(f"{API}/check-port", headers={"Connection": "close"})
                    statuses.append(answer.status_code)
                    if answer.status_code == 503:
                        assert answer.headers["content-type"] == "application/problem+json"
                        assert answer.headers["retry-after"] == "1"
                    await asyncio.sleep(1.0)
            await asyncio.gather(*slow)
            return statuses

        statuses = asyncio.run(scenario())
        assert set(statuses) <= {200, 503}, statuses
        assert statuses[-1] == 200, statuses  # the slow ones were cut off: served again
        assert "Too many open files" not in service.output()
        assert service.log.stat().st_size - log_size < 10_000
