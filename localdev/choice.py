"""Which PostgreSQL and Redis a launcher uses.

A `.env` is used as it is; without one, the servers where the settings point (127.0.0.1:5432 and
:6379 by default) when something answers there, and otherwise the embedded ones.
`VIDEOFLIX_EMBEDDED=1` starts the embedded ones whatever answers; `VIDEOFLIX_EMBEDDED=0` never does.
"""

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from localdev import BASE_DIR, log
from localdev.servers import (
    EmbeddedPostgres,
    EmbeddedRedis,
    ServerError,
    answers,
    postgres_bin_dir,
    redis_bin_dir,
)

TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


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

    def database_hint(self) -> str:
        """What to try when the database of a configured server cannot be used."""
        if self.postgres is not None:
            return ""
        return (
            " Check DB_HOST/DB_PORT and DB_USER/DB_PASSWORD for that server, or use the embedded "
            "servers: VIDEOFLIX_EMBEDDED=1."
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
