"""SignedWebhookSender against real local HTTP(S) servers on 127.0.0.1.

Each test starts its own threaded ``http.server`` (plain or TLS, with a test CA made
here with ``cryptography``) and checks what a user of the sender can observe: the
signed POST that arrives (Standard Webhooks signature, Host, Basic credentials),
connection reuse and recovery when the server closes a kept-alive connection, the
result of a non-2xx, a redirect, a timeout, a refused connection, a large answer,
a certificate that does not match, and the address check (SSRF) before connecting.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import ipaddress
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from audit_trail.adapters.webhooks.sender import SignedWebhookSender
from audit_trail.core.errors import UnsafeWebhookUrl
from audit_trail.core.ports.webhook_sender import SendResult, WebhookMessage

SECRET = "whsec_" + base64.b64encode(b"a test secret of 32 bytes length").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another secret, not the sender's").decode()


# --- a real server -------------------------------------------------------------


@dataclass
class Request:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    client_port: int  # the client's end of the TCP connection


Responder = Callable[[BaseHTTPRequestHandler, Request, threading.Event], None]


def answer(status: int, body: bytes = b"", extra: dict[str, str] | None = None) -> Responder:
    """A responder that sends ``status`` with ``body`` and the ``extra`` headers."""

    def respond(handler: BaseHTTPRequestHandler, _: Request, __: threading.Event) -> None:
        handler.send_response(status)
        handler.send_header("content-length", str(len(body)))
        for name, value in (extra or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return respond


@dataclass
class Server:
    """A threaded HTTP/1.1 server (keep-alive) that records each request and counts
    the TCP connections it accepted; ``respond`` decides each answer."""

    base: str  # scheme://host:port
    port: int
    respond: Responder
    received: list[Request] = field(default_factory=list)
    accepted: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"{self.base}/hook"

    def got(self) -> list[Request]:
        with self.lock:
            return list(self.received)

    def connections(self) -> int:
        with self.lock:
            return self.accepted


@contextlib.contextmanager
def serve(
    respond: Responder | None = None,
    *,
    host: str = "127.0.0.1",
    tls: ssl.SSLContext | None = None,
    url_host: str | None = None,
) -> Iterator[Server]:
    state = Server("", 0, respond or answer(200))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            request = Request(
                self.path,
                {name.lower(): value for name, value in self.headers.items()},
                self.rfile.read(length),
                self.client_address[1],
            )
            with state.lock:
                state.received.append(request)
            with contextlib.suppress(OSError):
                state.respond(self, request, state.stop)

        def do_GET(self) -> None:  # a followed redirect would come as a GET
            self.do_POST()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET

    class CountingServer(ThreadingHTTPServer):
        address_family = family
        daemon_threads = True

        def get_request(self) -> tuple[socket.socket, Any]:
            sock, address = self.socket.accept()
            if tls is not None:  # the handshake in the server's thread, not accept()'s
                sock = tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            return sock, address

        def process_request(self, request: Any, client_address: Any) -> None:
            with state.lock:
                state.accepted += 1
            super().process_request(request, client_address)

        def finish_request(self, request: Any, client_address: Any) -> None:
            if isinstance(request, ssl.SSLSocket):
                try:
                    request.do_handshake()
                except OSError:
                    return  # the client refused the certificate
            super().finish_request(request, client_address)

    server = CountingServer((host, 0), Handler)
    state.port = server.server_address[1]
    scheme = "https" if tls is not None else "http"
    state.base = f"{scheme}://{url_host or host}:{state.port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def server() -> Iterator[Server]:
    with serve() as running:
        yield running


@pytest.fixture
async def sender() -> AsyncIterator[SignedWebhookSender]:
    running = SignedWebhookSender(timeout_seconds=2.0, allow_private=True)
    yield running
    await running.close()


def message(url: str, number: int = 1) -> WebhookMessage:
    body = json.dumps({"specversion": "1.0", "id": f"event-{number}", "data": {"n": number}})
    return WebhookMessage(url, f"msg_{number}", body.encode(), SECRET)


def ids(requests: list[Request]) -> list[str]:
    return [request.headers["webhook-id"] for request in requests]


# --- 1. the signed POST --------------------------------------------------------


async def test_a_signed_post_arrives_intact_and_verifies_with_the_secret(
    server: Server, sender: SignedWebhookSender
) -> None:
    sent = message(server.url + "?tenant=a%20b&x=1")

    result = await sender.send(sent)

    assert result.status == 200
    assert result.error is None
    assert result.duration_ms >= 0
    [got] = server.got()
    assert got.body == sent.body
    assert got.path == "/hook?tenant=a%20b&x=1"
    assert got.headers["host"] == f"127.0.0.1:{server.port}"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-id"] == "msg_1"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 10
    assert got.headers["webhook-signature"].startswith("v1,")
    verified = Webhook(SECRET).verify(got.body, got.headers)
    assert verified == json.loads(sent.body)


async def test_the_signature_does_not_verify_with_another_secret_or_another_body(
    server: Server, sender: SignedWebhookSender
) -> None:
    await sender.send(message(server.url))

    [got] = server.got()
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER_SECRET).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(got.body.replace(b'"n": 1', b'"n": 2'), got.headers)


async def test_credentials_in_the_url_arrive_as_basic_authentication_and_not_in_host(
    server: Server, sender: SignedWebhookSender
) -> None:
    url = f"http://user:p%40ss@127.0.0.1:{server.port}/hook"

    result = await sender.send(message(url))

    assert result.error is None
    [got] = server.got()
    assert got.headers["authorization"] == "Basic " + base64.b64encode(b"user:p@ss").decode()
    assert got.headers["host"] == f"127.0.0.1:{server.port}"
    assert got.path == "/hook"


async def test_a_url_without_credentials_sends_no_authorization_header(
    server: Server, sender: SignedWebhookSender
) -> None:
    await sender.send(message(server.url))

    [got] = server.got()
    assert "authorization" not in got.headers


# --- 2, 3. keep-alive ----------------------------------------------------------


async def test_sends_in_a_row_reuse_one_tcp_connection(
    server: Server, sender: SignedWebhookSender
) -> None:
    results = [await sender.send(message(server.url, n)) for n in range(5)]

    assert [result.status for result in results] == [200] * 5
    assert ids(server.got()) == [f"msg_{n}" for n in range(5)]
    assert server.connections() == 1
    assert len({request.client_port for request in server.got()}) == 1


async def test_a_connection_idle_past_idle_seconds_is_replaced_by_a_new_one(
    server: Server,
) -> None:
    sender = SignedWebhookSender(timeout_seconds=2.0, allow_private=True, idle_seconds=0.1)
    try:
        assert (await sender.send(message(server.url, 1))).error is None
        await asyncio.sleep(0.25)
        assert (await sender.send(message(server.url, 2))).error is None
    finally:
        await sender.close()

    assert ids(server.got()) == ["msg_1", "msg_2"]
    assert server.connections() == 2


def close_after_answering(
    handler: BaseHTTPRequestHandler, request: Request, stop: threading.Event
) -> None:
    """Answer as if the connection stayed open (no ``Connection: close``), then close."""
    answer(200)(handler, request, stop)
    handler.wfile.flush()
    handler.close_connection = True


async def test_sends_at_once_after_the_server_closed_the_kept_alive_connection_succeed(
    sender: SignedWebhookSender,
) -> None:
    with serve(close_after_answering) as closing:
        results = [await sender.send(message(closing.url, n)) for n in range(6)]

        assert [(result.status, result.error) for result in results] == [(200, None)] * 6
        assert ids(closing.got()) == [f"msg_{n}" for n in range(6)]


async def test_a_send_after_the_server_closed_the_idle_connection_uses_a_new_one(
    sender: SignedWebhookSender,
) -> None:
    with serve(close_after_answering) as closing:
        results: list[SendResult] = []
        for n in range(4):
            results.append(await sender.send(message(closing.url, n)))
            await asyncio.sleep(0.05)  # the server's close reaches the client meanwhile

        assert [(result.status, result.error) for result in results] == [(200, None)] * 4
        assert ids(closing.got()) == [f"msg_{n}" for n in range(4)]
        assert closing.connections() == 4


async def test_a_request_the_server_drops_on_a_reused_connection_is_sent_again(
    sender: SignedWebhookSender,
) -> None:
    """The keep-alive race: the server closes its idle connection just as the next
    request comes (it reads it, answers nothing); the request goes again, on a new
    connection, with the same webhook-id (receivers dedupe on it)."""
    answered = answer(200)
    dropped: list[Request] = []

    def respond(handler: BaseHTTPRequestHandler, request: Request, stop: threading.Event) -> None:
        if request.headers["webhook-id"] == "msg_2" and not dropped:
            dropped.append(request)
            handler.close_connection = True  # read, not answered: the socket closes
            return
        answered(handler, request, stop)

    with serve(respond) as racing:
        first = await sender.send(message(racing.url, 1))
        second = await sender.send(message(racing.url, 2))

        assert (first.status, first.error) == (200, None)
        assert (second.status, second.error) == (200, None)
        assert ids(racing.got()) == ["msg_1", "msg_2", "msg_2"]
        assert racing.connections() == 2


async def test_an_answer_with_connection_close_makes_the_next_send_use_a_new_connection(
    sender: SignedWebhookSender,
) -> None:
    with serve(answer(204, extra={"connection": "close"})) as closing:
        results = [await sender.send(message(closing.url, n)) for n in range(3)]

        assert [(result.status, result.error) for result in results] == [(204, None)] * 3
        assert ids(closing.got()) == ["msg_0", "msg_1", "msg_2"]
        assert closing.connections() == 3


# --- 4. failures with an answer ------------------------------------------------


async def test_a_503_is_a_failed_result_with_its_status(sender: SignedWebhookSender) -> None:
    with serve(answer(503, b"busy, come back later")) as busy:
        result = await sender.send(message(busy.url))

        assert result.status == 503
        assert result.error == "HTTP 503"
        assert len(busy.got()) == 1


async def test_a_failed_answer_keeps_the_connection_for_the_next_send(
    sender: SignedWebhookSender,
) -> None:
    statuses = iter([500, 200])

    def respond(handler: BaseHTTPRequestHandler, request: Request, stop: threading.Event) -> None:
        answer(next(statuses), b"some text")(handler, request, stop)

    with serve(respond) as flaky:
        first = await sender.send(message(flaky.url, 1))
        second = await sender.send(message(flaky.url, 2))

        assert (first.status, first.error) == (500, "HTTP 500")
        assert (second.status, second.error) == (200, None)
        assert flaky.connections() == 1


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_a_failure_and_is_not_followed(
    sender: SignedWebhookSender, server: Server, status: int
) -> None:
    with serve(answer(status, extra={"location": server.url})) as redirecting:
        result = await sender.send(message(redirecting.url))

        assert result.status == status
        assert result.error == f"HTTP {status}"
        assert len(redirecting.got()) == 1
    assert server.got() == []
    assert server.connections() == 0


# --- 5, 6. failures without an answer ------------------------------------------


def never_answer(_: BaseHTTPRequestHandler, __: Request, stop: threading.Event) -> None:
    stop.wait(10)


async def test_a_server_that_never_answers_times_out_within_the_timeout() -> None:
    sender = SignedWebhookSender(timeout_seconds=0.3, allow_private=True)
    with serve(never_answer) as silent:
        try:
            started = time.monotonic()
            result = await sender.send(message(silent.url))
            elapsed = time.monotonic() - started
        finally:
            await sender.close()

        assert result.status is None
        assert result.error == "timeout"
        assert 0.25 <= elapsed < 2.0
        assert 250 <= result.duration_ms < 2000
        assert len(silent.got()) == 1  # it arrived, no answer came


async def test_after_a_timeout_the_next_send_to_a_working_server_succeeds(
    server: Server,
) -> None:
    sender = SignedWebhookSender(timeout_seconds=0.3, allow_private=True)
    with serve(never_answer) as silent:
        try:
            assert (await sender.send(message(silent.url))).error == "timeout"
            result = await sender.send(message(server.url, 2))
        finally:
            await sender.close()

    assert (result.status, result.error) == (200, None)
    assert ids(server.got()) == ["msg_2"]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound on 127.0.0.1 with nothing listening: connecting is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


async def test_a_refused_connection_is_a_failed_result_naming_the_failure(
    sender: SignedWebhookSender, closed_port: int
) -> None:
    started = time.monotonic()
    result = await sender.send(message(f"http://127.0.0.1:{closed_port}/hook"))

    assert result.status is None
    assert result.error is not None
    assert result.error.startswith("ConnectionRefusedError")
    assert time.monotonic() - started < 2.0


def close_without_answering(
    handler: BaseHTTPRequestHandler, _: Request, __: threading.Event
) -> None:
    handler.close_connection = True


async def test_a_server_that_closes_a_new_connection_without_answering_is_a_failed_result(
    sender: SignedWebhookSender,
) -> None:
    with serve(close_without_answering) as closing:
        result = await sender.send(message(closing.url))

        assert result.status is None  # (once PeerClosed can be raised, it must not escape)
        assert result.error is not None
        assert len(closing.got()) >= 1


# --- 7. a large answer ---------------------------------------------------------


async def test_a_large_answer_is_reported_and_the_next_send_still_works(
    sender: SignedWebhookSender,
) -> None:
    bodies = iter([b"x" * (1024 * 1024), b""])

    def respond(handler: BaseHTTPRequestHandler, request: Request, stop: threading.Event) -> None:
        answer(200, next(bodies))(handler, request, stop)

    with serve(respond) as large:
        started = time.monotonic()
        first = await sender.send(message(large.url, 1))
        second = await sender.send(message(large.url, 2))

        assert (first.status, first.error) == (200, None)
        assert (second.status, second.error) == (200, None)
        assert ids(large.got()) == ["msg_1", "msg_2"]
        assert time.monotonic() - started < 2.0


async def test_a_large_error_answer_still_reports_its_status(
    sender: SignedWebhookSender,
) -> None:
    with serve(answer(500, b"e" * (1024 * 1024))) as large:
        result = await sender.send(message(large.url))

        assert (result.status, result.error) == (500, "HTTP 500")


async def test_an_answer_under_the_read_limit_keeps_the_connection(
    sender: SignedWebhookSender,
) -> None:
    with serve(answer(200, b"y" * (32 * 1024))) as medium:
        for n in range(3):
            assert (await sender.send(message(medium.url, n))).error is None

        assert medium.connections() == 1


# --- 8. the address check (SSRF) -----------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_loopback_address_is_refused_when_private_addresses_are_not_allowed(
    server: Server, host: str
) -> None:
    sender = SignedWebhookSender(timeout_seconds=2.0, allow_private=False)
    try:
        result = await sender.send(message(f"http://{host}:{server.port}/hook"))
    finally:
        await sender.close()

    assert result.status is None
    assert result.error is not None
    assert result.error.startswith("refused: ")
    assert "loopback" in result.error
    assert server.got() == []
    assert server.connections() == 0


async def test_a_loopback_address_is_allowed_when_private_addresses_are_allowed(
    server: Server, sender: SignedWebhookSender
) -> None:
    await sender.check_url(server.url)
    result = await sender.send(message(server.url))

    assert (result.status, result.error) == (200, None)
    assert len(server.got()) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "https://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
async def test_check_url_raises_for_a_non_public_address_when_not_allowed(url: str) -> None:
    sender = SignedWebhookSender(timeout_seconds=2.0, allow_private=False)
    try:
        with pytest.raises(UnsafeWebhookUrl):
            await sender.check_url(url)
    finally:
        await sender.close()


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/hook", "file:///etc/passwd", "/relative/hook", "127.0.0.1:80"]
)
@pytest.mark.parametrize("allow_private", [False, True])
async def test_check_url_raises_for_a_url_that_is_not_absolute_http(
    url: str, allow_private: bool
) -> None:
    sender = SignedWebhookSender(timeout_seconds=2.0, allow_private=allow_private)
    try:
        with pytest.raises(UnsafeWebhookUrl):
            await sender.check_url(url)
        result = await sender.send(message(url))
    finally:
        await sender.close()

    assert result.status is None
    assert result.error is not None
    assert result.error.startswith("refused: ")


async def test_check_url_accepts_a_loopback_url_when_private_addresses_are_allowed(
    sender: SignedWebhookSender,
) -> None:
    await sender.check_url("http://127.0.0.1:8080/hook")
    await sender.check_url("http://localhost/hook")


# --- 10. TLS -------------------------------------------------------------------


@dataclass(frozen=True)
class Authority:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    path: Path  # PEM, to trust

    def issue(self, dns_name: str, folder: Path) -> ssl.SSLContext:
        """A server context with a certificate for ``dns_name`` signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        cert_path = folder / f"{dns_name}.pem"
        key_path = folder / f"{dns_name}.key"
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        return context


def make_ca(folder: Path, name: str) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = folder / f"{name}.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Authority(key, certificate, path)


@pytest.fixture(scope="module")
def tls_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls")


@pytest.fixture(scope="module")
def test_ca(tls_folder: Path) -> Authority:
    return make_ca(tls_folder, "audit-trail-test-ca")


def localhost_address() -> str:
    """The address the sender dials for "localhost": the first one it resolves to."""
    return str(socket.getaddrinfo("localhost", 0, type=socket.SOCK_STREAM)[0][4][0])


@pytest.fixture
async def tls_sender(test_ca: Authority) -> AsyncIterator[SignedWebhookSender]:
    trusting = ssl.create_default_context(cafile=os.fspath(test_ca.path))
    running = SignedWebhookSender(timeout_seconds=2.0, allow_private=True, ssl_context=trusting)
    yield running
    await running.close()


async def test_an_https_send_verifies_the_certificate_for_the_url_host_and_arrives(
    test_ca: Authority, tls_folder: Path, tls_sender: SignedWebhookSender
) -> None:
    context = test_ca.issue("localhost", tls_folder)
    with serve(host=localhost_address(), tls=context, url_host="localhost") as secure:
        results = [await tls_sender.send(message(secure.url, n)) for n in range(3)]

        assert [(result.status, result.error) for result in results] == [(200, None)] * 3
        got = secure.got()
        assert ids(got) == ["msg_0", "msg_1", "msg_2"]
        assert got[0].headers["host"] == f"localhost:{secure.port}"
        Webhook(SECRET).verify(got[0].body, got[0].headers)
        assert secure.connections() == 1  # kept alive over TLS too


async def test_an_https_certificate_for_another_name_is_a_failed_result(
    test_ca: Authority, tls_folder: Path, tls_sender: SignedWebhookSender
) -> None:
    context = test_ca.issue("example.invalid", tls_folder)
    with serve(host=localhost_address(), tls=context, url_host="localhost") as wrong:
        result = await tls_sender.send(message(wrong.url))

        assert result.status is None
        assert result.error is not None
        assert "SSLCertVerificationError" in result.error
        assert "localhost" in result.error  # the name that did not match
        assert wrong.got() == []


async def test_an_https_certificate_from_an_untrusted_ca_is_a_failed_result(
    tls_folder: Path, tls_sender: SignedWebhookSender
) -> None:
    stranger = make_ca(tls_folder, "a-stranger-ca")
    context = stranger.issue("localhost", tls_folder)
    with serve(host=localhost_address(), tls=context, url_host="localhost") as untrusted:
        result = await tls_sender.send(message(untrusted.url))

        assert result.status is None
        assert result.error is not None
        assert "certificate verify failed" in result.error
        assert untrusted.got() == []


async def test_an_https_url_to_a_plain_http_server_is_a_failed_result(
    server: Server, tls_sender: SignedWebhookSender
) -> None:
    result = await tls_sender.send(message(f"https://127.0.0.1:{server.port}/hook"))

    assert result.status is None
    assert result.error is not None
    assert server.got() == []
