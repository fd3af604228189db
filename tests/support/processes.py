"""The project's own processes, started for real from this checkout: gunicorn (with the shipped
gunicorn.conf.py), RQ workers and manage.py commands, each logging to a file of its own and
stopped when its block ends."""

import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.net import free_port, http_get, wait_until

BASE_DIR = Path(__file__).resolve().parents[2]
GUNICORN_CONFIG = BASE_DIR / "gunicorn.conf.py"


@dataclass
class Service:
    process: subprocess.Popen
    log_path: Path
    env: dict = field(default_factory=dict)
    url: str = ""
    name: str = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL when the process has not ended after `timeout` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextlib.contextmanager
def started(command: list[str], *, env: dict, log_path: Path, cwd: Path = BASE_DIR):
    """`command` running with stdout and stderr in `log_path`, stopped when the block ends."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        stop(process)


def django_env(**overrides) -> dict:
    """This process's environment with `overrides` (values turned into strings)."""
    env = dict(os.environ)
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def live_env(settings, **overrides) -> dict:
    """The environment for a server process that shares this test's database, media folder and
    SECRET_KEY (which signs the test's tokens; DEBUG is on because production refuses that key)."""
    from django.db import connection

    return django_env(
        **{
            "DB_NAME": connection.settings_dict["NAME"],
            "MEDIA_ROOT": settings.MEDIA_ROOT,
            "SECRET_KEY": settings.SECRET_KEY,
            "DEBUG": "True",
            **overrides,
        }
    )


def manage(env: dict, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    """`manage.py *args` in a child process; its output is captured as text."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


@contextlib.contextmanager
def gunicorn(
    env: dict,
    log_dir: Path,
    *,
    workers: int = 2,
    app: str = "core.wsgi:application",
    extra_args: tuple[str, ...] = (),
    ready_path: str = "/api/health/?only=ffmpeg",
):
    """gunicorn as the image starts it (`gunicorn -c gunicorn.conf.py <app>`), on a free loopback
    port with `workers` workers; yields a Service whose `url` answers `ready_path` with 200."""
    port = free_port()
    env = dict(env, GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS=str(workers))
    command = [str(Path(sys.executable).with_name("gunicorn")), "-c", str(GUNICORN_CONFIG), *extra_args, app]
    log_path = log_dir / f"gunicorn-{port}.log"
    with started(command, env=env, log_path=log_path) as process:
        service = Service(process=process, log_path=log_path, env=env, url=f"http://127.0.0.1:{port}")
        if not wait_until(lambda: http_get(service.url + ready_path)[0] == 200, timeout=60):
            raise RuntimeError("gunicorn did not start:\n" + service.log())
        yield service


@contextlib.contextmanager
def rq_worker(env: dict, log_dir: Path, queues=("default", "transcode"), name: str | None = None):
    """`manage.py rqworker` with the scheduler; yields a Service once it listens on `queues`."""
    name = name or f"worker-{free_port()}"
    log_path = log_dir / f"{name}.log"
    command = [sys.executable, "manage.py", "rqworker", *queues, "--with-scheduler", "--name", name]
    with started(command, env=env, log_path=log_path) as process:
        service = Service(process=process, log_path=log_path, env=env, name=name)
        if not wait_until(lambda: "Listening on" in log_path.read_text(errors="replace"), timeout=60):
            raise RuntimeError("the RQ worker did not start:\n" + service.log())
        yield service
