"""The loopback relay of the browser tests (tests/support/relay.py), on its own: what made a page
load through it hang (sockets a browser opened but had not used yet, passed on to gunicorn's
one-thread workers; an accept loop that died on one failed connect), its rate bound and its
cable."""

import socket
import threading
import time

import pytest

from tests.support import Relay, free_port, gunicorn, http_get, live_env

pytestmark = pytest.mark.slow


class CountingServer:
    """A loopback server that counts the connections it accepted and answers each request line
    with b"ok", reading what a client sends."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.accepted = 0
        self.received = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn):
        with conn:
            while data := conn.recv(65536):
                self.received += len(data)
                if data.endswith(b"\n"):
                    conn.sendall(b"ok")

    def close(self):
        self.listener.close()


@pytest.fixture
def server():
    counting = CountingServer()
    yield counting
    counting.close()


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def ask(relay: Relay, timeout: float = 5) -> bytes:
    """The answer to one line through the relay; b"" when the connection was closed unanswered."""
    with socket.create_connection(("127.0.0.1", port_of(relay.url)), timeout=timeout) as conn:
        try:
            conn.sendall(b"hello\n")
            return conn.recv(16)
        except ConnectionResetError:
            return b""


def test_a_socket_the_browser_never_uses_never_reaches_the_server(server):
    relay = Relay(server.url)
    try:
        unused = [socket.create_connection(("127.0.0.1", port_of(relay.url))) for _ in range(3)]
        assert ask(relay) == b"ok"
        time.sleep(0.2)
        assert server.accepted == 1  # only the connection that sent something
        for conn in unused:
            conn.close()
    finally:
        relay.close()


def test_the_rate_bound_gives_no_credit_for_idle_time(server):
    relay = Relay(server.url, upload_rate=500_000)
    try:
        with socket.create_connection(("127.0.0.1", port_of(relay.url)), timeout=10) as conn:
            conn.sendall(b"x")
            time.sleep(2)  # idle: an unbounded burst would follow with credit for these 2 s
            started = time.monotonic()
            conn.sendall(b"y" * 500_000 + b"\n")
            assert conn.recv(16) == b"ok"
            assert time.monotonic() - started >= 0.9
    finally:
        relay.close()


def test_unplug_cuts_and_refuses_connections_until_plugged_again(server):
    relay = Relay(server.url)
    try:
        held = socket.create_connection(("127.0.0.1", port_of(relay.url)), timeout=5)
        held.sendall(b"first\n")
        assert held.recv(16) == b"ok"

        relay.unplug()
        assert held.recv(16) == b""  # cut
        assert ask(relay) == b""  # refused
        relay.plug()
        assert ask(relay) == b"ok"
        held.close()
    finally:
        relay.close()


def test_a_refused_upstream_connect_does_not_stop_the_relay(server):
    relay = Relay(f"http://127.0.0.1:{free_port()}")  # nothing listens there yet
    try:
        assert ask(relay) == b""  # closed, as by a server that is down
        relay.upstream = ("127.0.0.1", port_of(server.url))  # the server is back
        assert ask(relay) == b"ok"
    finally:
        relay.close()


def test_close_ends_the_accept_loop_and_frees_the_port(server):
    relay = Relay(server.url)
    relay.close()

    assert not relay.accepter.is_alive()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port_of(relay.url)), timeout=2)


@pytest.mark.django_db(transaction=True)
def test_unused_sockets_do_not_hold_up_gunicorns_one_thread_workers(settings, tmp_path):
    """gunicorn's gthread worker (one thread, gunicorn.conf.py) waits up to 5 s for the first
    bytes of a connection it accepted; passed on at once, each socket a browser opened early held
    a worker that long, and the page's requests waited behind them."""
    with gunicorn(live_env(settings), tmp_path) as web:
        relay = Relay(web.url)
        try:
            unused = [socket.create_connection(("127.0.0.1", port_of(relay.url))) for _ in range(4)]
            time.sleep(0.3)
            started = time.monotonic()
            # Each on a new connection, as a page's requests are: any worker may accept it.
            statuses = [http_get(f"{relay.url}/api/health/?only=ffmpeg", timeout=30)[0] for _ in range(6)]
            elapsed = time.monotonic() - started
            for conn in unused:
                conn.close()
        finally:
            relay.close()
    assert statuses == [200] * 6
    assert elapsed < 3, f"the request waited {elapsed:.1f} s behind sockets that sent nothing"
