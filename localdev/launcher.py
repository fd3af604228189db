"""`make run` and `make test`: the servers (choice.py), the set-up steps, the app or pytest, and a
bounded stop on Ctrl-C, SIGTERM or SIGHUP."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from localdev import BASE_DIR, log
from localdev.children import PYTHON, Child, http_status, manage, port_is_free, start_child, stop_children
from localdev.choice import Servers, configured_env, redis_address, with_bundled_tools, write_servers_env
from localdev.lock import AlreadyRunning, FolderLock
from localdev.servers import ServerError, wait_until

# Seconds pytest gets to tear down after an interrupt.
TEST_TEARDOWN_SECONDS = 60


def local_dir() -> Path:
    return Path(os.environ.get("VIDEOFLIX_LOCAL_DIR") or BASE_DIR / ".local").resolve()


class Interrupted(Exception):
    """Ctrl-C, SIGTERM or SIGHUP reached the launcher."""


def _raise_interrupted(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def _ignore_signals():
    """Stopping is bounded; a second Ctrl-C must not cut it short and leave servers behind."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


def run(port: int, web_workers: int, queues: list[str]) -> int:
    """`make run`: claim the data folder and the port, start the servers, set up, start gunicorn
    and the worker, print where they are, and stop everything on Ctrl-C (0) or a failure (1)."""
    folder = local_dir()
    lock = _claim(folder, port)
    if lock is None:
        return 1
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupted)
    configured, has_dotenv = configured_env()
    try:
        servers = Servers(configured, has_dotenv, folder, durable=True)
    except ServerError as error:
        lock.release()
        log(str(error))
        return 1
    servers_env = folder / "servers.env"
    children: list[Child] = []
    try:
        env = _start_servers(servers, servers_env)
        admin_login = _set_up(env, servers, folder)
        children = _start_app(env, port, web_workers, queues)
        base = f"http://127.0.0.1:{port}"
        if not _came_up(base, children):
            return 1
        print_banner(base, *servers.describe(env), admin_login)
        lock.update(f"make run (pid {os.getpid()}, {base}/)")
        return _watch(children)
    except Interrupted:
        with contextlib.suppress(OSError):
            print(flush=True)  # past the terminal's ^C
        log("stopping...")
        return 0
    except ServerError as error:
        log(str(error))
        return 1
    finally:
        _stop_everything(children, servers, servers_env, lock)


def _claim(folder: Path, port: int) -> FolderLock | None:
    """The data folder's lock, or None (said why) when another run holds it or the port is taken."""
    lock = FolderLock(folder)
    try:
        lock.acquire(f"make run (pid {os.getpid()}, starting)")
    except AlreadyRunning as running:
        print(
            f"localdev: another `make run` is already using {folder}: {running}.\n"
            "Stop it (Ctrl-C in its terminal) before starting a second one; its data stays as it is.",
            file=sys.stderr,
        )
        return None
    if not port_is_free(port):
        lock.release()
        print(
            f"localdev: port {port} is in use; choose another one: make run PORT={port + 1}", file=sys.stderr
        )
        return None
    return lock


def _start_servers(servers: Servers, servers_env: Path) -> dict:
    env = with_bundled_tools(servers.start(queue_db=0, cache_db=1))
    servers.warn_unreachable(env)
    if servers.any_embedded:
        write_servers_env(servers_env, env, servers)
    else:
        servers_env.unlink(missing_ok=True)
    return env


def _set_up(env: dict, servers: Servers, folder: Path) -> str:
    """The database, migrations, admin accounts and static files; returns the dev admin's login."""
    manage(env, "ensure_database", hint=servers.database_hint())
    manage(env, "migrate", "--noinput", "--verbosity", "1")
    manage(env, "ensure_superuser")
    admin_login = manage(
        env, "ensure_dev_admin", "--credentials", str(folder / "dev-admin.json"), capture=True
    )
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    return admin_login


def _start_app(env: dict, port: int, web_workers: int, queues: list[str]) -> list[Child]:
    web_env = {
        **env,
        "GUNICORN_BIND": f"0.0.0.0:{port}",
        "GUNICORN_WORKERS": str(web_workers),
        # gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl),
        # so a `gunicornc shutdown` meant for another gunicorn of the same user stops this one.
        "GUNICORN_CMD_ARGS": f"{env.get('GUNICORN_CMD_ARGS', '')} --no-control-socket".strip(),
    }
    gunicorn = str(Path(PYTHON).with_name("gunicorn"))
    worker = [PYTHON, "manage.py", "rqworker", *queues, "--with-scheduler"]
    return [
        start_child("RQ worker", worker, env, signal.SIGTERM),
        # SIGINT is gunicorn's quick shutdown (SIGTERM would wait for open keep-alive streams).
        start_child(
            "gunicorn", [gunicorn, "-c", "gunicorn.conf.py", "core.wsgi:application"], web_env, signal.SIGINT
        ),
    ]


def _came_up(base: str, children: list[Child]) -> bool:
    """Wait for /api/health/ to answer 200; say why not when a child exits or time runs out."""
    healthy = wait_until(
        lambda: (
            http_status(base + "/api/health/") == 200 or any(c.process.poll() is not None for c in children)
        ),
        timeout=120,
        interval=0.5,
    )
    exited = [child for child in children if child.process.poll() is not None]
    if exited or not healthy:
        reason = (
            f"{exited[0].name} exited"
            if exited
            else f"/api/health/ answered {http_status(base + '/api/health/')}"
        )
        log(f"Videoflix did not come up: {reason} (see the output above).")
        return False
    return True


def _watch(children: list[Child]) -> int:
    """Until a child exits (1) or a signal interrupts the launcher."""
    while True:
        for child in children:
            if child.process.poll() is not None:
                log(f"{child.name} exited with status {child.process.returncode}; stopping the rest.")
                return 1
        time.sleep(0.2)


def _stop_everything(children: list[Child], servers: Servers, servers_env: Path, lock: FolderLock) -> None:
    _ignore_signals()
    stopping_since = time.monotonic()
    stop_children(children)
    servers.stop()
    servers_env.unlink(missing_ok=True)
    lock.release()
    if children or servers.any_embedded:
        log(f"stopped in {time.monotonic() - stopping_since:.1f}s.")


def print_banner(base: str, database: str, redis: str, admin_login: str) -> None:
    urls = [
        ("Health", "/api/health/", "JSON state of every part"),
        ("API docs", "/api/docs/", "Swagger UI for the whole API"),
        ("Admin", "/admin/", f"upload films here; login {admin_login}"),
        ("RQ", "/django-rq/", "queues and workers (staff)"),
    ]
    width = max(len(base + path) for _, path, _ in urls)
    lines = ["", "  Videoflix is running. Ctrl-C stops it.", ""]
    for label, path, what in urls:
        status = http_status(base + path)
        note = "" if status is not None and status < 400 else f"  (answered {status})"
        lines.append(f"  {label:<10} {base + path:<{width}}  {what}{note}")
    lines += ["", f"  Database   {database}", f"  Redis      {redis}", ""]
    print("\n".join(lines), flush=True)


def test(pytest_args: list[str]) -> int:
    """`make test`: throw-away servers when needed, the migration check, then pytest; the servers
    are removed however pytest ends (passed, failed, interrupted)."""
    configured, has_dotenv = configured_env()
    # Throw-away servers of its own: a `make run` keeps its data and its lock.
    scratch = Path(tempfile.mkdtemp(prefix="videoflix-test-"))
    try:
        servers = Servers(configured, has_dotenv, scratch, durable=False)
    except ServerError as error:
        shutil.rmtree(scratch, ignore_errors=True)
        log(str(error))
        return 1
    pytest: list[subprocess.Popen] = []
    interrupted: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, frame: interrupted.append(signum))
    try:
        env = _test_env(servers)
        if interrupted:
            return 130
        # makemigrations --check reads the migration history.
        manage(env, "ensure_database", hint=servers.database_hint())
        manage(env, "makemigrations", "--check", "--dry-run")
        # pytest stays in the terminal's process group: Ctrl-C reaches it directly (and --pdb works).
        pytest.append(subprocess.Popen([PYTHON, "-m", "pytest", *pytest_args], cwd=BASE_DIR, env=env))
        return _wait_for_pytest(pytest[0], interrupted)
    except ServerError as error:
        log(str(error))
        return 1
    finally:
        _ignore_signals()
        if pytest and pytest[0].poll() is None:
            pytest[0].kill()
            pytest[0].wait()
        servers.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def _test_env(servers: Servers) -> dict:
    """The tests' environment: their own Redis databases (14, 15) unless Redis is embedded."""
    # From the process environment only: a `.env` names the databases of `make run`.
    queue_db = int(os.environ.get("REDIS_DB") or 14)
    env = with_bundled_tools(servers.start(queue_db=queue_db, cache_db=15))
    if servers.redis is None:
        # A `make run` on the same Redis keeps its queues (database 0) and cache (1).
        host, port = redis_address(env)
        env["REDIS_DB"] = str(queue_db)
        env["REDIS_LOCATION"] = os.environ.get("TEST_REDIS_LOCATION") or f"redis://{host}:{port}/15"
    database, redis = servers.describe(env)
    log(f"tests use {database}; {redis}")
    servers.warn_unreachable(env)
    return env


def _wait_for_pytest(pytest: subprocess.Popen, interrupted: list[int]) -> int:
    """pytest's exit status; after an interrupt it gets TEST_TEARDOWN_SECONDS to tear down."""
    first_signal_at = None
    while pytest.poll() is None:
        if interrupted and first_signal_at is None:
            first_signal_at = time.monotonic()
            if interrupted[0] != signal.SIGINT:  # SIGTERM/SIGHUP: let pytest tear down as on Ctrl-C
                pytest.send_signal(signal.SIGINT)
        if first_signal_at is not None and time.monotonic() - first_signal_at > TEST_TEARDOWN_SECONDS:
            log(f"pytest did not finish within {TEST_TEARDOWN_SECONDS}s of the interrupt; killed")
            pytest.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            pytest.wait(timeout=0.2)
    return pytest.returncode
