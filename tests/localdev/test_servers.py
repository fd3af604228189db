"""The embedded PostgreSQL and Redis of `make run`/`make test`, started for real in folders of
their own (outside pytest's tmp_path, which the PostgreSQL system user cannot enter as root)."""

import contextlib
import shutil
import socket
import tempfile
from pathlib import Path

import psutil
import psycopg2
import pytest
import redis

from localdev.choice import choose
from localdev.lock import AlreadyRunning, FolderLock
from localdev.servers import EmbeddedPostgres, EmbeddedRedis, answers, free_port


@pytest.fixture
def scratch():
    folder = Path(tempfile.mkdtemp(prefix="videoflix-localdev-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def running(server):
    """An embedded server started for the block and stopped after it, whatever the block did."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


def query(server: EmbeddedPostgres, sql: str, params=()):
    connection = psycopg2.connect(host=server.host, port=server.port, user="postgres", dbname="postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else None
    finally:
        connection.close()


def test_embedded_postgres_keeps_its_rows_across_a_restart_and_leaves_no_process(scratch):
    server = EmbeddedPostgres(scratch / "postgres", durable=True)
    with running(server):
        query(server, "CREATE TABLE film (title text)")
        query(server, "INSERT INTO film VALUES (%s)", ["Uploaded yesterday"])
        postmaster = server.postmaster()
        assert postmaster is not None
        server_processes = [postmaster, *postmaster.children(recursive=True)]

        server.stop()
        assert not server.is_running()
        assert not answers(server.host, server.port)
        assert not any(process.is_running() for process in server_processes)

        server.start()
        assert query(server, "SELECT title FROM film") == [("Uploaded yesterday",)]


def test_embedded_postgres_listens_only_on_its_socket_in_the_data_folder(scratch):
    server = EmbeddedPostgres(scratch / "postgres", durable=False)
    with running(server):
        assert query(server, "SHOW listen_addresses") == [("",)]
        assert query(server, "SHOW fsync") == [("off",)]
        assert (scratch / "postgres" / ".s.PGSQL.5432").is_socket()
        assert server.env()["DB_HOST"] == str(scratch / "postgres")


def test_a_killed_launchers_postgres_is_stopped_and_restarted_by_the_next(scratch):
    first = EmbeddedPostgres(scratch / "postgres")
    first.start()
    leftover = first.postmaster()
    # A new launcher knows nothing but the folder.
    second = EmbeddedPostgres(scratch / "postgres")
    try:
        second.start()
        assert second.postmaster().pid != leftover.pid
        assert query(second, "SELECT 1") == [(1,)]
    finally:
        second.stop()
    assert not leftover.is_running()


def test_embedded_redis_with_persistence_keeps_keys_across_a_restart(scratch):
    server = EmbeddedRedis(scratch / "redis", persistent=True)
    with running(server):
        assert server.port != 6379
        redis.Redis(host=server.host, port=server.port).set("film", "kept")
        pid = server.process.pid
        server.stop()
        assert not psutil.pid_exists(pid)
        assert not answers(server.host, server.port)

        server.start()
        assert redis.Redis(host=server.host, port=server.port).get("film") == b"kept"


def test_embedded_redis_without_persistence_forgets_keys_and_writes_no_files(scratch):
    server = EmbeddedRedis(scratch / "redis", persistent=False)
    with running(server):
        redis.Redis(host=server.host, port=server.port).set("film", "gone")
        server.stop()
        server.start()
        assert redis.Redis(host=server.host, port=server.port).get("film") is None
    assert sorted(path.name for path in (scratch / "redis").iterdir()) == ["redis.log"]


def test_a_second_folder_lock_is_refused_with_the_holders_description(scratch):
    first = FolderLock(scratch)
    first.acquire("make run (pid 4242, http://127.0.0.1:8000/)")
    try:
        with pytest.raises(AlreadyRunning, match=r"pid 4242, http://127\.0\.0\.1:8000/"):
            FolderLock(scratch).acquire("make run (pid 1)")
    finally:
        first.release()
    again = FolderLock(scratch)
    again.acquire("make run (pid 2)")
    again.release()


def test_choice_is_embedded_only_when_nothing_answers_and_no_env_file_decides():
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        running = listening.getsockname()
        unused = ("127.0.0.1", free_port())

        assert choose({}, False, running).embedded is False
        assert choose({}, False, unused).embedded is True
        assert choose({}, True, unused).embedded is False  # a .env wins
        assert choose({"VIDEOFLIX_EMBEDDED": "1"}, False, running).embedded is True
        assert choose({"VIDEOFLIX_EMBEDDED": "1"}, True, running).embedded is True
        assert choose({"VIDEOFLIX_EMBEDDED": "0"}, False, unused).embedded is False
