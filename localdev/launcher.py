"""What `make run` and `make test` start, and how they stop it.

Which servers: a `.env` is used as it is; without one, PostgreSQL and Redis are used where they
are configured (127.0.0.1:5432 and :6379 by default) when something answers there, and otherwise
started from the embedded packages with their data under `.local/`. `VIDEOFLIX_EMBEDDED=1` starts
the embedded ones whatever answers; `VIDEOFLIX_EMBEDDED=0` never does.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from localdev.servers import (
    AlreadyRunning,
    EmbeddedPostgres,
    EmbeddedRedis,
    FolderLock,
    ServerError,
    answers,
    die_with_parent,
    postgres_bin_dir,
    redis_bin_dir,
    wait_until,
)

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")

# Seconds a stopping process gets before it is killed. The RQ worker gets a second SIGTERM
# (cold shutdown: its running job is abandoned, and the stale-video sweep re-queues the video)
# halfway through.
STOP_GRACE_SECONDS = 5
# Seconds pytest gets to tear down after an interrupt.
TEST_TEARDOWN_SECONDS = 60


def local_dir() -> Path:
    return Path(os.environ.get("VIDEOFLIX_LOCAL_DIR") or BASE_DIR / ".local").resolve()


def log(message: str) -> None:
    print(f"localdev: {message}", flush=True)


class Interrupted(Exception):
    """Ctrl-C, SIGTERM or SIGHUP reached the launcher."""


def _raise_interrupted(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def _ignore_signals():
    """Stopping is bounded; a second Ctrl-C must not cut it short and leave servers behind."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


# --- Which servers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    embedded: bool
    reason: str


def configured_env(base_env: dict[str, str] | None = None) -> tuple[dict[str, str], bool]:
    """The settings as the app will see them (process environment over `.env`), and whether a
    `.env` exists."""
    environ = dict(os.environ if base_env is None else base_env)
    dotenv_path = BASE_DIR / ".env"
    values = (
        {k: v for k, v in dotenv_values(dotenv_path).items() if v is not None} if dotenv_path.exists() else {}
    )
    return {**values, **environ}, dotenv_path.exists()


def choose(env: dict[str, str], has_dotenv: bool, address: tuple[str, int]) -> Choice:
    """Embedded or not, for a server configured at `address`."""
    flag = env.get("VIDEOFLIX_EMBEDDED", "").strip().lower()
    host, port = address
    if flag in TRUE:
        return Choice(True, "VIDEOFLIX_EMBEDDED=1")
    if flag in FALSE:
        return Choice(False, "VIDEOFLIX_EMBEDDED=0")
    if has_dotenv:
        return Choice(False, "configured in .env")
    if answers(host, port):
        return Choice(False, "found running")
    return Choice(True, f"nothing answers at {host}:{port}")


def postgres_address(env: dict[str, str]) -> tuple[str, int]:
    return env.get("DB_HOST") or "127.0.0.1", int(env.get("DB_PORT") or 5432)


def redis_address(env: dict[str, str]) -> tuple[str, int]:
    return env.get("REDIS_HOST") or "127.0.0.1", int(env.get("REDIS_PORT") or 6379)


def with_bundled_tools(env: dict[str, str]) -> dict[str, str]:
    """PATH with the embedded packages' client and server programs (pg_isready, createdb,
    redis-server, ...) after the machine's own, for the scripts and tests that call them."""
    extra = []
    for find in (postgres_bin_dir, redis_bin_dir):
        with contextlib.suppress(ServerError):
            extra.append(str(find()))
    return {**env, "PATH": os.pathsep.join([env.get("PATH", os.defpath), *extra])}


# --- Processes ------------------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    stop_signal: int


def start_child(name: str, args: list[str], env: dict[str, str], stop_signal: int) -> Child:
    # A session of its own: the terminal's Ctrl-C reaches only the launcher, which stops the
    # children in order and within a bound.
    process = subprocess.Popen(
        args,
        cwd=BASE_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=die_with_parent,  # no threads in the launcher
    )
    return Child(name=name, process=process, stop_signal=stop_signal)


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def stop_children(children: list[Child], grace: float = STOP_GRACE_SECONDS) -> None:
    """Ask each child to stop, repeat the request halfway, kill whatever is left at the bound;
    then kill the rest of each child's process group (gunicorn's workers, RQ's work horse and
    scheduler)."""
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(child.stop_signal)
    deadline = time.monotonic() + grace
    repeated = False
    while any(child.process.poll() is None for child in children) and time.monotonic() < deadline:
        if not repeated and time.monotonic() > deadline - grace / 2:
            for child in children:
                if child.process.poll() is None:
                    child.process.send_signal(child.stop_signal)
            repeated = True
        time.sleep(0.05)
    for child in children:
        if child.process.poll() is None:
            log(f"{child.name} did not stop within {grace:g}s; killed")
        _kill_group(child.process)
        child.process.wait()


def manage(env: dict[str, str], *args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        check=False,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    if result.returncode != 0:
        raise SystemExit(f"localdev: manage.py {' '.join(args)} failed (exit {result.returncode}).")
    return (result.stdout or "").strip()


def http_status(url: str, timeout: float = 5) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback URL
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def port_is_free(port: int) -> bool:
    return not answers("127.0.0.1", port, timeout=0.5)


# --- Servers for one launcher ---------------------------------------------------------------------


class Servers:
    """The PostgreSQL and Redis one launcher uses: started here when embedded, else as configured."""

    def __init__(self, env: dict[str, str], has_dotenv: bool, data_dir: Path, *, durable: bool):
        self.env = dict(env)
        self.postgres_choice = choose(env, has_dotenv, postgres_address(env))
        self.redis_choice = choose(env, has_dotenv, redis_address(env))
        self.postgres = (
            EmbeddedPostgres(data_dir / "postgres", durable=durable)
            if self.postgres_choice.embedded
            else None
        )
        self.redis = (
            EmbeddedRedis(data_dir / "redis", persistent=durable) if self.redis_choice.embedded else None
        )

    @property
    def any_embedded(self) -> bool:
        return self.postgres is not None or self.redis is not None

    def start(self, queue_db: int, cache_db: int) -> dict[str, str]:
        """Start the embedded servers; the environment that points the app at all of them."""
        env = dict(self.env)
        # Explicit addresses, so that no .local/servers.env of another launcher applies to the children.
        host, port = postgres_address(env)
        env.update(DB_HOST=host, DB_PORT=str(port), DB_USER=env.get("DB_USER") or "postgres")
        host, port = redis_address(env)
        env.update(REDIS_HOST=host, REDIS_PORT=str(port))
        if self.postgres is not None:
            reason, data = self.postgres_choice.reason, _short(self.postgres.data_dir)
            log(f"embedded PostgreSQL ({reason}), data in {data}")
            self.postgres.start()
            env.update(self.postgres.env())
        if self.redis is not None:
            log(f"embedded Redis ({self.redis_choice.reason}), data in {_short(self.redis.data_dir)}")
            self.redis.start()
            env.update(self.redis.env(queue_db=queue_db, cache_db=cache_db))
        return env

    def warn_unreachable(self, env: dict[str, str]) -> None:
        """A configured server that does not answer fails later with a driver's error; say first
        what would help."""
        for name, choice, (host, port) in (
            ("PostgreSQL", self.postgres_choice, postgres_address(env)),
            ("Redis", self.redis_choice, redis_address(env)),
        ):
            if not choice.embedded and not answers(host, port):
                log(
                    f"{name} at {host}:{port} ({choice.reason}) does not answer. Start it, correct the "
                    "address, or use the embedded servers: VIDEOFLIX_EMBEDDED=1 (or no .env)."
                )

    def stop(self) -> None:
        for server in (self.redis, self.postgres):
            if server is not None:
                try:
                    server.stop()
                except Exception as error:  # noqa: BLE001 - stop the other one all the same
                    log(f"could not stop {type(server).__name__}: {error}")

    def describe(self, env: dict[str, str]) -> tuple[str, str]:
        if self.postgres is not None:
            database = (
                f"embedded PostgreSQL, {self.postgres.describe()} (data in {_short(self.postgres.data_dir)})"
            )
        else:
            host, port = postgres_address(env)
            database = f"PostgreSQL at {host}:{port} ({self.postgres_choice.reason})"
        if self.redis is not None:
            redis = f"embedded Redis, {self.redis.describe()} (data in {_short(self.redis.data_dir)})"
        else:
            host, port = redis_address(env)
            redis = f"Redis at {host}:{port} ({self.redis_choice.reason})"
        return f"{database}, database {env.get('DB_NAME') or 'videoflix'}", redis


def _short(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return f"{path.relative_to(BASE_DIR)}/"
    return f"{path}/"


def write_servers_env(path: Path, env: dict[str, str], servers: Servers) -> None:
    keys = []
    if servers.postgres is not None:
        keys += ["DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD"]
    if servers.redis is not None:
        keys += ["REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_LOCATION"]
    lines = ["# Written by `make run` while it runs its embedded servers; removed when it stops."]
    lines += [f"{key}={env[key]}" for key in keys]
    path.write_text("\n".join(lines) + "\n")


# --- make run -------------------------------------------------------------------------------------


def run(port: int, web_workers: int, queues: list[str]) -> int:
    folder = local_dir()
    lock = FolderLock(folder)
    try:
        lock.acquire(f"make run (pid {os.getpid()}, starting)")
    except AlreadyRunning as running:
        print(
            f"localdev: another `make run` is already using {folder}: {running}.\n"
            "Stop it (Ctrl-C in its terminal) before starting a second one; its data stays as it is.",
            file=sys.stderr,
        )
        return 1
    if not port_is_free(port):
        lock.release()
        print(
            f"localdev: port {port} is in use; choose another one: make run PORT={port + 1}", file=sys.stderr
        )
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
        env = with_bundled_tools(servers.start(queue_db=0, cache_db=1))
        servers.warn_unreachable(env)
        if servers.any_embedded:
            write_servers_env(servers_env, env, servers)
        else:
            servers_env.unlink(missing_ok=True)
        manage(env, "ensure_database")
        manage(env, "migrate", "--noinput", "--verbosity", "1")
        manage(env, "ensure_superuser")
        admin_login = manage(
            env, "ensure_dev_admin", "--credentials", str(folder / "dev-admin.json"), capture=True
        )
        manage(env, "collectstatic", "--noinput", "--verbosity", "0")

        web_env = {**env, "GUNICORN_BIND": f"0.0.0.0:{port}", "GUNICORN_WORKERS": str(web_workers)}
        gunicorn = str(Path(PYTHON).with_name("gunicorn"))
        children.append(
            start_child(
                "RQ worker",
                [PYTHON, "manage.py", "rqworker", *queues, "--with-scheduler"],
                env,
                signal.SIGTERM,
            )
        )
        # SIGINT is gunicorn's quick shutdown (SIGTERM would wait for open keep-alive streams).
        children.append(
            start_child(
                "gunicorn",
                [gunicorn, "-c", "gunicorn.conf.py", "core.wsgi:application"],
                web_env,
                signal.SIGINT,
            )
        )

        base = f"http://127.0.0.1:{port}"
        healthy = wait_until(
            lambda: (
                http_status(base + "/api/health/") == 200
                or any(c.process.poll() is not None for c in children)
            ),
            timeout=120,
            interval=0.5,
        )
        exited = [child for child in children if child.process.poll() is not None]
        if exited or not healthy:
            status = http_status(base + "/api/health/")
            reason = f"{exited[0].name} exited" if exited else f"/api/health/ answered {status}"
            log(f"Videoflix did not come up: {reason} (see the output above).")
            return 1

        database, redis = servers.describe(env)
        print_banner(base, database, redis, admin_login)
        lock.update(f"make run (pid {os.getpid()}, {base}/)")

        while True:
            for child in children:
                if child.process.poll() is not None:
                    log(f"{child.name} exited with status {child.process.returncode}; stopping the rest.")
                    return 1
            time.sleep(0.2)
    except Interrupted:
        print("", flush=True)
        log("stopping...")
        return 0
    except ServerError as error:
        log(str(error))
        return 1
    finally:
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


# --- make test ------------------------------------------------------------------------------------


def test(pytest_args: list[str]) -> int:
    configured, has_dotenv = configured_env()
    # Throw-away servers of its own: a `make run` keeps its data and its lock.
    scratch = Path(tempfile.mkdtemp(prefix="videoflix-test-"))
    try:
        servers = Servers(configured, has_dotenv, scratch, durable=False)
    except ServerError as error:
        shutil.rmtree(scratch, ignore_errors=True)
        log(str(error))
        return 1
    pytest: subprocess.Popen | None = None
    interrupted: list[int] = []

    def note_signal(signum, frame):
        interrupted.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, note_signal)
    try:
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
        if interrupted:
            return 130
        manage(env, "ensure_database")  # makemigrations --check reads the migration history
        manage(env, "makemigrations", "--check", "--dry-run")
        # pytest stays in the terminal's process group: Ctrl-C reaches it directly (and --pdb works).
        pytest = subprocess.Popen([PYTHON, "-m", "pytest", *pytest_args], cwd=BASE_DIR, env=env)
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
    except ServerError as error:
        log(str(error))
        return 1
    finally:
        _ignore_signals()
        if pytest is not None and pytest.poll() is None:
            pytest.kill()
            pytest.wait()
        servers.stop()
        shutil.rmtree(scratch, ignore_errors=True)
