"""Pieces the benchmarks share: a throw-away environment, wrk, and a table. Ports, waiting and
the project's processes (gunicorn, RQ workers) come from tests.support, as in the tests."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]


def require_tools(*names: str) -> None:
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        sys.exit(
            f"Missing tools: {', '.join(missing)}. Install them, e.g. apt-get install {' '.join(missing)}."
        )


def process_rss_mb(pid: int) -> float:
    """Resident memory of one process (not its children), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _admin_connection(env: dict):
    import psycopg2

    connection = psycopg2.connect(
        dbname="postgres",
        user=env["DB_USER"],
        password=env.get("DB_PASSWORD", ""),
        host=env["DB_HOST"],
        port=env["DB_PORT"],
    )
    connection.autocommit = True
    return connection


def prepare_environment(
    *, db_name: str, redis_db: int, cache_db: int, media_root: Path, extra: dict | None = None
) -> dict:
    """Environment for a benchmark's processes: a fresh database and Redis databases of its own."""
    import redis
    from psycopg2 import sql

    env = dict(os.environ)
    env.setdefault("DB_HOST", "127.0.0.1")
    env.setdefault("DB_PORT", "5432")
    env.setdefault("DB_USER", "postgres")
    env.setdefault("REDIS_HOST", "127.0.0.1")
    env.setdefault("REDIS_PORT", "6379")
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "core.settings",
            "DB_NAME": db_name,
            "REDIS_DB": str(redis_db),
            "REDIS_LOCATION": f"redis://{env['REDIS_HOST']}:{env['REDIS_PORT']}/{cache_db}",
            "MEDIA_ROOT": str(media_root),
            "DEBUG": "False",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            **(extra or {}),
        }
    )
    media_root.mkdir(parents=True, exist_ok=True)
    connection = _admin_connection(env)
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db_name)))
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db_name)))
    connection.close()
    for number in (redis_db, cache_db):
        redis.Redis(host=env["REDIS_HOST"], port=int(env["REDIS_PORT"]), db=number).flushdb()
    return env


def drop_environment(env: dict) -> None:
    import redis
    from psycopg2 import sql

    connection = _admin_connection(env)
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(env["DB_NAME"]))
        )
    connection.close()
    client = redis.Redis(host=env["REDIS_HOST"], port=int(env["REDIS_PORT"]), db=int(env["REDIS_DB"]))
    client.flushdb()


@dataclass
class WrkResult:
    connections: int
    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    output: str

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _to_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS_MS[unit]


def parse_wrk(output: str, connections: int) -> WrkResult:
    def search(pattern: str, default: str = "0") -> str:
        match = re.search(pattern, output)
        return match.group(1) if match else default

    socket_errors = 0
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if match:
        socket_errors = sum(int(value) for value in match.groups())
    return WrkResult(
        connections=connections,
        requests=int(search(r"(\d+) requests in")),
        requests_per_second=float(search(r"Requests/sec:\s+([\d.]+)")),
        p50_ms=_to_ms(search(r"50%\s+([\d.]+(?:us|ms|s|m))", "0ms")),
        p99_ms=_to_ms(search(r"99%\s+([\d.]+(?:us|ms|s|m))", "0ms")),
        non_2xx=int(search(r"Non-2xx or 3xx responses: (\d+)")),
        socket_errors=socket_errors,
        output=output,
    )


def wrk_run(
    url: str, *, connections: int, seconds: int, headers: dict | None = None, threads: int = 2
) -> WrkResult:
    command = ["wrk", "--latency", "-t", str(min(threads, connections)), "-c", str(connections)]
    command += ["-d", f"{seconds}s", "--timeout", "10s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    result = subprocess.run([*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60)
    return parse_wrk(result.stdout, connections)


def wrk_run_parallel(jobs: list[tuple[str, str, int, int, dict]]) -> dict[str, WrkResult]:
    """Run several wrk processes at once: (name, url, connections, seconds, headers) each."""
    results: dict[str, WrkResult] = {}

    def run(name, url, connections, seconds, headers):
        results[name] = wrk_run(url, connections=connections, seconds=seconds, headers=headers, threads=1)

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {name: results[name] for name, *_ in jobs}


class Table:
    def __init__(self, columns: list[str]):
        self.columns = columns
        self.rows: list[list[str]] = []

    def add(self, *values) -> None:
        self.rows.append([str(value) for value in values])

    def print(self) -> None:
        widths = [max(len(row[i]) for row in [self.columns, *self.rows]) for i in range(len(self.columns))]
        line = "  ".join(column.ljust(widths[i]) for i, column in enumerate(self.columns))
        print(line)
        print("  ".join("-" * width for width in widths))
        for row in self.rows:
            print("  ".join(value.ljust(widths[i]) for i, value in enumerate(row)))


class MultipartFileBody:
    """A multipart/form-data body (form fields, then one file) streamed from disk in 1 MB pieces,
    with its length known up front: requests then sends Content-Length and the pieces as they are
    read, as a browser does, and `finished_at` notes when the last byte was handed over."""

    def __init__(self, fields: dict[str, str], file_field: str, path: Path, *, content_type: str):
        self.boundary = uuid.uuid4().hex
        head = "".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in fields.items()
        )
        head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
            f'filename="{path.name}"\r\nContent-Type: {content_type}\r\n\r\n'
        )
        self.path, self.head, self.tail = path, head.encode(), f"\r\n--{self.boundary}--\r\n".encode()
        self.length = len(self.head) + path.stat().st_size + len(self.tail)
        self.finished_at: float | None = None

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        yield self.head
        with open(self.path, "rb") as handle:
            while chunk := handle.read(1024 * 1024):
                yield chunk
        yield self.tail
        self.finished_at = time.monotonic()
