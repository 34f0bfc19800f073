"""Time-ordered, URL-safe entry ids (ULID layout, Crockford base32, 26 characters).

48 bits of milliseconds since the epoch, then 80 random bits. Within one process,
ids made in the same millisecond increment the random part, so they stay ordered;
across processes the 80 random bits make a collision practically impossible.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80


def encode_base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


class UlidIdFactory:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._last_millis = -1
        self._last_random = 0

    def new_id(self) -> str:
        with self._lock:
            millis = time.time_ns() // 1_000_000
            if os.getpid() != self._pid:  # a forked copy: don't continue the parent's sequence
                self._pid, self._last_millis = os.getpid(), -1
            if millis <= self._last_millis:
                millis = self._last_millis
                random_part = self._last_random + 1
                if random_part >= 1 << _RANDOM_BITS:  # 2**80 ids in one ms: move on a ms
                    millis, random_part = millis + 1, 0
            else:
                random_part = int.from_bytes(os.urandom(10), "big") >> 1  # room to grow
            self._last_millis, self._last_random = millis, random_part
        return encode_base32((millis << _RANDOM_BITS) | random_part, 26)
