"""A real syslog collector for tests: a TCP listener on 127.0.0.1 that reads
octet-counted frames (RFC 6587 §3.4.1) and parses each RFC 5424 message on its own
(not with the code under test). ``stop`` closes it and every connection; ``start``
listens again on the same port."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class SyslogMessage:
    pri: int
    version: str
    timestamp: str
    hostname: str
    app_name: str
    procid: str
    msgid: str
    sd_id: str
    params: dict[str, str]
    msg: bytes  # after the BOM


def parse(raw: bytes) -> SyslogMessage:
    """One RFC 5424 message with one SD element, strictly."""
    assert raw.startswith(b"<")
    close = raw.index(b">")
    pri = int(raw[1:close])
    fields = raw[close + 1 :].split(b" ", 6)
    version, timestamp, hostname, app_name, procid, msgid, rest = (
        *(f.decode("ascii") for f in fields[:6]),
        fields[6],
    )
    assert rest.startswith(b"["), rest[:20]
    text = rest.decode("utf-8")
    i = 1
    sd_id_end = text.index(" ", i)
    sd_id = text[i:sd_id_end]
    i = sd_id_end
    params: dict[str, str] = {}
    while text[i] == " ":
        eq = text.index("=", i)
        name = text[i + 1 : eq]
        assert text[eq + 1] == '"'
        j, value = eq + 2, []
        while text[j] != '"':
            if text[j] == "\\" and text[j + 1] in '"\\]':
                value.append(text[j + 1])
                j += 2
            else:
                assert text[j] != "]", "an unescaped ] inside a PARAM-VALUE"
                value.append(text[j])
                j += 1
        params[name] = "".join(value)
        i = j + 1
    assert text[i] == "]", text[i:]
    assert text[i + 1] == " "
    msg = text[i + 2 :].encode("utf-8")
    assert msg.startswith(BOM)
    return SyslogMessage(
        pri, version, timestamp, hostname, app_name, procid, msgid, sd_id, params, msg[3:]
    )


class SyslogListener:
    def __init__(self) -> None:
        self.port = 0
        self._messages: list[SyslogMessage] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def messages(self) -> list[SyslogMessage]:
        with self._lock:
            return list(self._messages)

    def start(self) -> None:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen()
        server.settimeout(0.05)  # accept() looks at the stop flag this often
        self._stopping.clear()
        self.port = server.getsockname()[1]
        self._server = server
        self._spawn(self._accept, server)

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads[:1]:
            thread.join(5)  # the accept loop: no connection comes in after this
        if self._server is not None:
            self._server.close()
            self._server = None
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        for thread in self._threads:
            thread.join(5)
        self._threads = []

    def _spawn(self, target: object, sock: socket.socket) -> None:
        thread = threading.Thread(target=target, args=(sock,), daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self, server: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(None)
            with self._lock:
                self._connections.append(connection)
            self._spawn(self._read, connection)

    def _read(self, connection: socket.socket) -> None:
        buffer = b""
        while True:
            try:
                chunk = connection.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b" " in buffer:
                length, _, rest = buffer.partition(b" ")
                assert length.isdigit(), buffer[:40]
                if len(rest) < int(length):
                    break
                message, buffer = rest[: int(length)], rest[int(length) :]
                try:
                    parsed = parse(message)
                except Exception as exc:  # the test reads errors: a thread cannot fail it
                    self.errors.append(f"{exc!r} in {message[:200]!r}")
                    continue
                with self._lock:
                    self._messages.append(parsed)
