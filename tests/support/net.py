"""Loopback networking for tests and benchmarks: free ports, waiting for readiness, small HTTP
calls that return (status, body) instead of raising, and a logged-in admin session."""

import contextlib
import json
import socket
import time
import urllib.error
import urllib.request


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at the moment of the call."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2) -> bool:
    """Call `predicate` until it returns true (True) or `timeout` seconds pass (False); an
    exception counts as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return True
        time.sleep(interval)
    return False


def _call(request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def http_get(url: str, headers: dict | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
    return _call(urllib.request.Request(url, headers=headers or {}), timeout)  # noqa: S310


def http_post_json(url: str, data: dict, timeout: float = 10.0) -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 - loopback only
        url, data=json.dumps(data).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    return _call(request, timeout)


def admin_session(base_url: str, email: str, password: str):
    """A requests session logged into the Django admin through its login form."""
    import requests

    session = requests.Session()
    session.get(f"{base_url}/admin/login/", timeout=10)
    response = session.post(
        f"{base_url}/admin/login/",
        data={
            "username": email,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": f"{base_url}/admin/login/"},
        timeout=10,
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text[:2000]
    return session
