"""Resumable uploads over real HTTP: gunicorn (gunicorn.conf.py) reading a PATCH whose client goes
away half way, and the shipped nginx passing a PATCH body on while it is still arriving."""

import hashlib
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.factories import UserFactory
from tests.support import admin_session, gunicorn, live_env, make_clip, wait_until
from tests.support.nginx import nginx_missing, shipped_nginx
from video.uploads.services import COPY_CHUNK_BYTES

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Sturdy-Passw0rd!"
TUS = {"Tus-Resumable": "1.0.0"}
UPLOADS = "/admin/video/video/uploads/"


@pytest.fixture
def film(tmp_path) -> Path:
    """About 5 MB: a half is several of the pieces the server writes at a time."""
    return make_clip(tmp_path / "film.mp4", width=640, height=360, seconds=20)


@pytest.fixture
def web(settings, tmp_path):
    settings.VIDEO_UPLOAD_DIR.mkdir()
    UserFactory(email="staff@example.com", password=PASSWORD, is_staff=True, is_superuser=True)
    env = live_env(settings, ALLOWED_HOSTS="127.0.0.1", VIDEO_UPLOAD_DIR=settings.VIDEO_UPLOAD_DIR)
    with gunicorn(env, tmp_path, workers=2) as service:
        yield service.url


def create(session, url: str, length: int) -> str:
    headers = {**TUS, "Upload-Length": str(length), "X-CSRFToken": session.cookies["csrftoken"]}
    response = session.post(f"{url}{UPLOADS}", headers=headers)
    assert response.status_code == 201, response.text
    return urlparse(response.headers["Location"]).path


def open_patch(session, url: str, path: str, *, offset: int, length: int) -> socket.socket:
    """A PATCH of `length` bytes at `offset` whose headers are sent; the caller sends the body."""
    address = urlparse(url)
    cookies = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
    head = (
        f"PATCH {path} HTTP/1.1\r\nHost: {address.netloc}\r\nCookie: {cookies}\r\n"
        f"X-CSRFToken: {session.cookies['csrftoken']}\r\nTus-Resumable: 1.0.0\r\n"
        f"Upload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    )
    connection = socket.create_connection((address.hostname, address.port), timeout=30)
    connection.sendall(head.encode())
    return connection


def offset(session, url: str, path: str) -> int:
    response = session.head(f"{url}{path}", headers=TUS)
    assert response.status_code == 200, response.status_code
    return int(response.headers["Upload-Offset"])


def part_file(settings) -> Path:
    (part,) = Path(settings.VIDEO_UPLOAD_DIR).glob("*.part")
    return part


def test_a_patch_cut_off_half_way_keeps_what_arrived_and_the_upload_resumes_from_there(web, film, settings):
    session = admin_session(web, "staff@example.com", PASSWORD)
    content = film.read_bytes()
    half = len(content) // 2
    path = create(session, web, len(content))

    connection = open_patch(session, web, path, offset=0, length=len(content))
    connection.sendall(content[:half])
    connection.close()  # the page was closed, the laptop lid shut

    assert wait_until(lambda: offset(session, web, path) == half, timeout=30), offset(session, web, path)
    rest = session.patch(
        f"{web}{path}",
        data=content[half:],
        headers={
            **TUS,
            "Upload-Offset": str(half),
            "Content-Type": "application/offset+octet-stream",
            "X-CSRFToken": session.cookies["csrftoken"],
        },
    )
    assert rest.status_code == 204, rest.text
    assert rest.headers["Upload-Offset"] == str(len(content))
    assert hashlib.sha256(part_file(settings).read_bytes()).digest() == hashlib.sha256(content).digest()


def test_the_shipped_nginx_passes_a_patch_body_on_while_it_arrives(web, film, settings, tmp_path):
    reason = nginx_missing()
    if reason:
        pytest.skip(reason)
    static = tmp_path / "static"
    static.mkdir()
    with shipped_nginx(
        tmp_path / "nginx",
        upstream=urlparse(web).netloc,
        media_root=settings.MEDIA_ROOT,
        static_root=static,
        signing_key="test-signing-key-" + "x" * 40,
    ) as proxy:
        session = admin_session(proxy, "staff@example.com", PASSWORD)
        content = film.read_bytes()
        half = len(content) // 2
        path = create(session, proxy, len(content))

        connection = open_patch(session, proxy, path, offset=0, length=len(content))
        connection.sendall(content[:half])
        # Buffered, nginx would hold the body until its last byte: Django would have nothing yet.
        # (Django writes it in pieces of COPY_CHUNK_BYTES, so it holds whole pieces of the half.)
        assert wait_until(lambda: part_file(settings).stat().st_size >= COPY_CHUNK_BYTES, timeout=30)
        assert part_file(settings).stat().st_size <= half
        connection.sendall(content[half:])
        answer = connection.makefile("rb").readline()
        connection.close()

    assert answer.startswith(b"HTTP/1.1 204"), answer
    assert hashlib.sha256(part_file(settings).read_bytes()).digest() == hashlib.sha256(content).digest()
