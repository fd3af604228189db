"""Real processes for fault tests: a private PostgreSQL cluster, a private redis-server, gunicorn
and RQ workers, all on loopback ports of their own. The machine's shared services are never
stopped or touched."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql") / (sorted(os.listdir("/usr/lib/postgresql"))[-1]) / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return True
        time.sleep(interval)
    return False


def http_get(url: str, headers: dict | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def http_post_json(url: str, data: dict, timeout: float = 10.0) -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 - loopback only
        url, data=json.dumps(data).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


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


def _as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """initdb and pg_ctl refuse to run as root; run them as the postgres system user."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=120, **kwargs)


@dataclass
class PrivatePostgres:
    data_dir: Path
    port: int

    def start(self) -> None:
        _as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-w",
                "-l",
                str(self.data_dir / "server.log"),
                "-o",
                f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ]
        )

    def stop(self) -> None:
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-w", "-m", "fast", "stop"])

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def private_postgres():
    """A throw-away PostgreSQL cluster (trust auth, superuser `postgres`) on its own port.

    Its folder lives outside pytest's tmp_path, which the postgres system user cannot enter.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="videoflix-pg-"))
    shutil.chown(data_dir, "postgres", "postgres")
    _as_postgres([str(PG_BIN / "initdb"), "-D", str(data_dir), "-U", "postgres", "-A", "trust"])
    server = PrivatePostgres(data_dir=data_dir, port=free_port())
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass
class PrivateRedis:
    port: int
    directory: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_until(self.is_up, timeout=10), "redis-server did not start"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def is_up(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
            return True


@contextlib.contextmanager
def private_redis(tmp_path: Path):
    server = PrivateRedis(port=free_port(), directory=tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Service:
    process: subprocess.Popen
    log_path: Path
    env: dict = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def django_env(**overrides) -> dict:
    env = dict(os.environ)
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def live_env(settings, **overrides) -> dict:
    """The environment for a server process that shares this test's database, media folder and
    SECRET_KEY (which signs the test's tokens; DEBUG is on because production refuses that key)."""
    from django.db import connection

    return django_env(
        DB_NAME=connection.settings_dict["NAME"],
        MEDIA_ROOT=settings.MEDIA_ROOT,
        SECRET_KEY=settings.SECRET_KEY,
        DEBUG="True",
        **overrides,
    )


def manage(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


@contextlib.contextmanager
def gunicorn(env: dict, tmp_path: Path, workers: int = 2, extra_args: tuple[str, ...] = ()):
    port = free_port()
    log_path = tmp_path / f"gunicorn-{port}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "core.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                # As the image runs it (backend.entrypoint.sh).
                "--worker-class",
                "gthread",
                "--threads",
                "1",
                "--timeout",
                "60",
                *extra_args,
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    service = Service(process=process, log_path=log_path, env=env)
    service.url = f"http://127.0.0.1:{port}"
    try:
        ok = wait_until(lambda: http_get(service.url + "/api/health/?only=ffmpeg")[0] == 200, timeout=60)
        assert ok, "gunicorn did not start:\n" + service.log()
        yield service
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextlib.contextmanager
def rq_worker(env: dict, tmp_path: Path, queues=("default", "transcode"), name: str | None = None):
    name = name or f"fault-worker-{free_port()}"
    log_path = tmp_path / f"{name}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", *queues, "--with-scheduler", "--name", name],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    service = Service(process=process, log_path=log_path, env=env)
    service.name = name
    try:
        listening = wait_until(lambda: "Listening on" in log_path.read_text(errors="replace"), timeout=60)
        assert listening, "the RQ worker did not start:\n" + service.log()
        yield service
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
