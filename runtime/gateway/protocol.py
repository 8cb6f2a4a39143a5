"""The TWS socket protocol at server version 157: handshake, framing and the field codec.

After the handshake every message is a 4-byte big-endian length followed by NUL-terminated ASCII fields; field 0
is the message id. This module knows nothing about what the messages mean: it turns bytes into field lists and
field values into bytes, robustly (a hostile or broken client can send anything).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass

#: The server version the gateway announces: the one value ibapi 9.81, ibapi 10.x and ib_async all accept.
SERVER_VERSION = 157
#: The lowest client version the gateway can serve (the layouts it implements exist from 100 on).
MIN_CLIENT_VERSION = 100
#: Default limit for one incoming frame; larger length prefixes close the connection.
MAX_FRAME_BYTES = 1 << 20
#: IB's "unset" sentinels.
UNSET_INTEGER = 2**31 - 1
UNSET_DOUBLE = 1.7976931348623157e308

API_PREFIX = b"API\0"
_LENGTH = struct.Struct(">I")


class ProtocolError(Exception):
    """The peer broke the framing or the handshake; the connection cannot continue."""


class FieldError(ValueError):
    """A message's fields are missing or do not parse; the message is rejected, the connection continues."""


# --------------------------------------------------------------------------------------------------------- handshake
@dataclass(frozen=True)
class Hello:
    """What a client announced in its first bytes: ``API\\0`` + ``v<min>..<max>[ options]``."""

    min_version: int
    max_version: int
    options: str = ""

    def negotiate(self, server_version: int = SERVER_VERSION) -> int | None:
        """The version to run at (``min(client max, ours)``), or None when the client cannot go that low."""
        version = min(self.max_version, server_version)
        if version < max(self.min_version, MIN_CLIENT_VERSION):
            return None
        return version


def parse_hello(buf: bytes | bytearray, max_bytes: int = 4096) -> tuple[Hello | None, int]:
    """Parse the client's opening bytes.

    Returns ``(hello, consumed)``; ``(None, 0)`` while more bytes are needed. Raises :class:`ProtocolError` for
    anything that is not a version-100+ handshake.
    """
    if len(buf) < len(API_PREFIX):
        if not API_PREFIX.startswith(bytes(buf)):
            raise ProtocolError("the client did not start with the API handshake")
        return None, 0
    if bytes(buf[:4]) != API_PREFIX:
        raise ProtocolError("the client did not start with the API handshake")
    if len(buf) < 8:
        return None, 0
    (size,) = _LENGTH.unpack_from(buf, 4)
    if size > max_bytes:
        raise ProtocolError(f"handshake of {size} bytes is too long")
    if len(buf) < 8 + size:
        return None, 0
    text = bytes(buf[8 : 8 + size]).decode("ascii", errors="replace").strip("\0").strip()
    versions, _, options = text.partition(" ")
    if not versions.startswith("v"):
        raise ProtocolError(f"handshake without a version range: {text!r}")
    low, sep, high = versions[1:].partition("..")
    try:
        lo = int(low)
        hi = int(high) if sep else lo
    except ValueError:
        raise ProtocolError(f"handshake with a bad version range: {text!r}") from None
    return Hello(lo, hi, options.strip()), 8 + size


# ----------------------------------------------------------------------------------------------------------- framing
class FrameReader:
    """Incremental splitter of a byte stream into length-prefixed frames with a bounded buffer."""

    __slots__ = ("_buf", "max_frame")

    def __init__(self, max_frame: int = MAX_FRAME_BYTES) -> None:
        self._buf = bytearray()
        self.max_frame = max_frame

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        """Add bytes and return the complete frames (payloads without the length prefix).

        Raises :class:`ProtocolError` on a length prefix above ``max_frame`` (the stream cannot be resynchronised).
        """
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        pos = 0
        end = len(buf)
        while end - pos >= 4:
            (size,) = _LENGTH.unpack_from(buf, pos)
            if size > self.max_frame:
                del buf[:]
                raise ProtocolError(f"frame of {size} bytes exceeds the limit of {self.max_frame}")
            if end - pos - 4 < size:
                break
            frames.append(bytes(buf[pos + 4 : pos + 4 + size]))
            pos += 4 + size
        if pos:
            del buf[:pos]
        return frames


def split_fields(payload: bytes) -> list[str]:
    """The fields of one frame as text (NUL-terminated; a missing final terminator is tolerated)."""
    text = payload.decode("utf-8", errors="replace")
    parts = text.split("\0")
    if parts and parts[-1] == "":
        parts.pop()
    return parts


# ------------------------------------------------------------------------------------------------------ field codec
def fmt_float(value: float | None) -> str:
    """A price or amount as IB sends it: empty for unset/None/NaN, shortest round-trip text otherwise."""
    if value is None or value == UNSET_DOUBLE or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    f = float(value)
    if f.is_integer() and abs(f) < 1e15:
        return str(int(f))
    return repr(f)


def fmt_int(value: int | None) -> str:
    """An integer field: empty when unset or None."""
    if value is None or value == UNSET_INTEGER:
        return ""
    return str(int(value))


def fmt_bool(value: bool) -> str:
    return "1" if value else "0"


def _fmt(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return fmt_float(value)
    if value is None:
        return ""
    return str(value)


def clean_text(text: str) -> str:
    """Text safe inside a field: no NULs, printable ASCII (clients decode some fields with 'unicode-escape')."""
    if text.isascii() and "\0" not in text and "\\" not in text:
        return text
    out = []
    for ch in text:
        if ch == "\0":
            continue
        if ch == "\\":
            out.append("/")
        elif ord(ch) < 128:
            out.append(ch)
        else:
            out.append("?")
    return "".join(out)


def encode_fields(fields: Iterable[object]) -> bytes:
    """One framed message from field values (str as is, bool as 1/0, numbers formatted, None empty)."""
    body = "\0".join([_fmt(f) for f in fields]).encode("utf-8", errors="replace") + b"\0"
    return _LENGTH.pack(len(body)) + body


def encode_text_fields(fields: list[str]) -> bytes:
    """Fast path of :func:`encode_fields` for fields that are already strings."""
    body = ("\0".join(fields) + "\0").encode("utf-8", errors="replace")
    return _LENGTH.pack(len(body)) + body


def encode_frame(payload: bytes) -> bytes:
    """Prefix raw bytes with their length."""
    return _LENGTH.pack(len(payload)) + payload


# ---------------------------------------------------------------------------------------------------- field reading
class FieldReader:
    """Reads typed values from a message's fields, front to back, tolerating the encodings real clients use.

    Integers accept ``"12"``, ``"12.0"`` and empty (-> default); floats accept empty (-> default) and
    ``"Infinite"``; booleans accept 0/1, true/false. Running out of fields raises :class:`FieldError`.
    """

    __slots__ = ("fields", "pos")

    def __init__(self, fields: list[str], start: int = 0) -> None:
        self.fields = fields
        self.pos = start

    @property
    def remaining(self) -> int:
        return len(self.fields) - self.pos

    def str(self) -> str:
        if self.pos >= len(self.fields):
            raise FieldError(f"message ends after {self.pos} fields")
        value = self.fields[self.pos]
        self.pos += 1
        return value

    def str_or(self, default: str = "") -> str:
        return self.str() if self.pos < len(self.fields) else default

    def int(self, default: int = 0) -> int:
        text = self.str().strip()
        if not text:
            return default
        try:
            return int(text)
        except ValueError:
            try:
                f = float(text)
            except ValueError:
                raise FieldError(f"field {self.pos - 1} is not an integer: {text[:40]!r}") from None
            if not math.isfinite(f) or not f.is_integer():
                raise FieldError(f"field {self.pos - 1} is not an integer: {text[:40]!r}") from None
            return int(f)

    def int_or(self, default: int = 0) -> int:
        return self.int(default) if self.pos < len(self.fields) else default

    def float(self, default: float | None = None) -> float | None:
        text = self.str().strip()
        if not text:
            return default
        if text in ("Infinite", "Infinity", "inf"):
            return math.inf
        try:
            value = float(text)
        except ValueError:
            raise FieldError(f"field {self.pos - 1} is not a number: {text[:40]!r}") from None
        if value == UNSET_DOUBLE or math.isnan(value):
            return default
        return value

    def bool(self, default: bool = False) -> bool:
        text = self.str().strip().lower()
        if not text:
            return default
        if text in ("1", "true", "t", "yes"):
            return True
        if text in ("0", "false", "f", "no"):
            return False
        try:
            return float(text) != 0
        except ValueError:
            raise FieldError(f"field {self.pos - 1} is not a boolean: {text[:40]!r}") from None

    def bool_or(self, default: bool = False) -> bool:
        return self.bool(default) if self.pos < len(self.fields) else default

    def skip(self, n: int = 1) -> None:
        if self.pos + n > len(self.fields):
            raise FieldError(f"message ends after {len(self.fields)} fields")
        self.pos += n
