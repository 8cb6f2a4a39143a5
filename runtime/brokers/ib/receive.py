"""A socket read for ibapi's ``Connection`` that never throws received bytes away.

ibapi's ``Connection.recvMsg`` (9.81 and 10.x alike) keeps calling ``recv(4096)`` while a read fills the whole
4096 bytes. When what TWS sent ends exactly at a multiple of 4096 bytes, that next ``recv`` waits for the socket's
one-second timeout and ibapi then returns nothing: every byte read in that call is lost (a history answer, fills,
order statuses), and the request whose answer it was waits for its timeout. :func:`install` replaces the method on
one connection with :func:`receive`, which reads what is there and returns it, waiting only when nothing is.
"""

from __future__ import annotations

import logging
import select
import types
from typing import Any

log = logging.getLogger(__name__)

#: bytes asked for per ``recv`` (ibapi asks for 4096)
READ_SIZE = 65536


def receive(conn: Any) -> bytes:
    """Everything the socket has now (waiting up to the socket's timeout when it has nothing); ``b""`` after a
    timeout with nothing read. A closed or broken connection is disconnected, as ibapi does."""
    sock = conn.socket
    if sock is None or not conn.isConnected():
        return b""
    chunks: list[bytes] = []
    closed = False
    try:
        while True:
            data = sock.recv(READ_SIZE)
            if not data:
                closed = True
                break
            chunks.append(data)
            if len(data) < READ_SIZE or not select.select([sock], [], [], 0)[0]:
                break
    except TimeoutError:
        pass
    except OSError:
        closed = True
    if closed and not chunks:
        log.debug("socket closed or broken: disconnecting")
        conn.disconnect()
        return b""
    return b"".join(chunks)


def install(conn: Any) -> None:
    """Make ``conn.recvMsg`` (an ibapi ``Connection``) use :func:`receive`."""
    conn.recvMsg = types.MethodType(receive, conn)


__all__ = ["READ_SIZE", "install", "receive"]
