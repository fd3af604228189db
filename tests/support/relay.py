"""A loopback TCP relay between a browser and a server, for the browser tests: it bounds the rate
of request bytes (so an upload can be caught half way) and its cable can be pulled, as a dropped
network does (`unplug()` cuts every connection and refuses new ones until `plug()`).

It behaves like a well-mannered proxy, because a browser notices anything less:

- The upstream connection is opened when the browser sends its first bytes, in that
  connection's own thread. A browser opens sockets it may never use (preconnects, and sockets
  it started while another one became free); passed on at once, each would hold one of
  gunicorn's gthread worker threads (one per worker here) waiting for a request, while the
  requests that did come waited behind it. The accept loop only accepts, so a slow or failed
  upstream connect can neither stall nor kill it (a dead accept loop leaves every later
  connection hanging in the listen queue: a page load that times out).
- A half-close is passed on as a half-close (shutdown for writing), not as a cut of both ways,
  and both sockets are closed once both directions have ended, so nothing piles up.
- The rate bound gives no credit for idle time: a kept-alive connection that waited ten seconds
  does not then send ten seconds' worth of bytes at once.
- `close()` wakes the accept loop (shutdown of the listener) and waits for it, so no thread of
  one test keeps a listening socket alive into the next.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

CHUNK = 16384
CONNECT_TIMEOUT = 10.0


def _shutdown(sock: socket.socket, how: int) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(how)


class _Link:
    """One browser connection and, once the browser has sent something, its upstream one."""

    def __init__(self, relay: Relay, client: socket.socket):
        self.relay, self.client = relay, client
        self.server: socket.socket | None = None
        self.lock = threading.Lock()
        self.cut = False
        self.directions_left = 2

    def run(self) -> None:
        try:
            first = self.client.recv(CHUNK)
        except OSError:
            first = b""
        if not first:  # opened and closed (or cut) without a request: nothing to pass on
            self._finish_direction(both=True)
            return
        try:
            server = socket.create_connection(self.relay.upstream, timeout=CONNECT_TIMEOUT)
            server.settimeout(None)
        except OSError:
            self._finish_direction(both=True)  # the browser sees the server go away
            return
        with self.lock:
            self.server = server
            cut = self.cut
        if cut or not self.relay.plugged:
            self.abort()
            self._finish_direction(both=True)
            return
        threading.Thread(target=self._pump_down, daemon=True, name="relay-down").start()
        self._pump_up(first)

    def _pump_up(self, data: bytes) -> None:
        """Browser to server, at most `upload_rate` bytes a second."""
        rate, due = self.relay.upload_rate, time.monotonic()
        try:
            while data:
                self.server.sendall(data)
                if rate:
                    due = max(due, time.monotonic()) + len(data) / rate
                    time.sleep(max(0.0, due - time.monotonic()))
                data = self.client.recv(CHUNK)
            _shutdown(self.server, socket.SHUT_WR)  # the browser's half-close, passed on
        except OSError:
            self.abort()
        self._finish_direction()

    def _pump_down(self) -> None:
        """Server to browser, unbounded."""
        try:
            while data := self.server.recv(CHUNK):
                self.client.sendall(data)
            _shutdown(self.client, socket.SHUT_WR)
        except OSError:
            self.abort()
        self._finish_direction()

    def abort(self) -> None:
        """Cut both ways at once (wakes a thread blocked on either socket)."""
        with self.lock:
            self.cut = True
            ends = [self.client, self.server]
        for end in ends:
            if end is not None:
                _shutdown(end, socket.SHUT_RDWR)

    def _finish_direction(self, *, both: bool = False) -> None:
        with self.lock:
            self.directions_left -= 2 if both else 1
            done = self.directions_left <= 0
        if done:
            for end in (self.client, self.server):
                if end is not None:
                    end.close()
            self.relay._forget(self)


class Relay:
    """Listens on a free loopback port (`url`) and relays every connection to `upstream`
    (`http://host:port`)."""

    def __init__(self, upstream: str, *, upload_rate: int = 0):
        host, port = upstream.removeprefix("http://").rsplit(":", 1)
        self.upstream = (host, int(port))
        self.upload_rate = upload_rate
        self.plugged = True
        self.links: set[_Link] = set()
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.accepter = threading.Thread(target=self._accept, daemon=True, name="relay-accept")
        self.accepter.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if not self.plugged:
                client.close()
                continue
            link = _Link(self, client)
            with self.lock:
                self.links.add(link)
            threading.Thread(target=link.run, daemon=True, name="relay-up").start()

    def _forget(self, link: _Link) -> None:
        with self.lock:
            self.links.discard(link)

    def unplug(self) -> None:
        """Cut every connection and refuse new ones, as a dropped network does."""
        self.plugged = False
        with self.lock:
            links = list(self.links)
        for link in links:
            link.abort()

    def plug(self) -> None:
        self.plugged = True

    def close(self) -> None:
        self.unplug()
        _shutdown(self.listener, socket.SHUT_RDWR)
        self.listener.close()
        self.accepter.join(timeout=5)
