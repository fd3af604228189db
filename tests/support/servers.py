"""A private PostgreSQL cluster and a private redis-server on loopback ports of their own, for
tests that stop and start them. The machine's shared services are never stopped or touched."""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.net import free_port, wait_until


def _pg_bin() -> Path:
    """The newest PostgreSQL server binaries installed (Debian's layout)."""
    root = Path("/usr/lib/postgresql")
    newest = max(os.listdir(root), key=lambda version: [int(part) for part in version.split(".")])
    return root / newest / "bin"


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
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-l", str(self.data_dir / "server.log"), "-o", options, "start")

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def _pg_ctl(self, *args: str) -> None:
        _as_postgres([str(_pg_bin() / "pg_ctl"), "-D", str(self.data_dir), "-w", *args])


@contextlib.contextmanager
def private_postgres():
    """A throw-away PostgreSQL cluster (trust auth, superuser `postgres`) on its own port.

    Its folder lives outside pytest's tmp_path, which the postgres system user cannot enter.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="videoflix-pg-"))
    shutil.chown(data_dir, "postgres", "postgres")
    _as_postgres([str(_pg_bin() / "initdb"), "-D", str(data_dir), "-U", "postgres", "-A", "trust"])
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
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if not wait_until(self.is_up, timeout=10):
            raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def is_up(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
            return True


@contextlib.contextmanager
def private_redis(directory: Path):
    """A redis-server with no persistence, its working folder `directory`, on its own port."""
    server = PrivateRedis(port=free_port(), directory=directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
