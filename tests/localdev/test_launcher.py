"""`python -m localdev run|test` (what `make run` and `make test` call), run for real with the
embedded servers forced on and a data folder of the test's own."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from localdev.lock import FolderLock
from localdev.servers import free_port
from tests.support import http_get, wait_until

BASE_DIR = Path(__file__).resolve().parents[2]
PROBE = "tests/localdev/probe_embedded.py"

pytestmark = [pytest.mark.slow]


@pytest.fixture
def local_dir():
    folder = Path(tempfile.mkdtemp(prefix="videoflix-local-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def launcher_env(local_dir: Path, tmp_path: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "REDIS_"))}
    env.update(
        VIDEOFLIX_EMBEDDED="1",
        VIDEOFLIX_LOCAL_DIR=str(local_dir),
        MEDIA_ROOT=str(tmp_path / "media"),
        STATIC_ROOT=str(tmp_path / "static"),
        DEBUG="True",
        **extra,
    )
    env.pop("SECRET_KEY", None)
    return env


def start_launcher(args: list[str], env: dict, output: Path) -> subprocess.Popen:
    # A session of its own, so a signal to its process group is what a terminal's Ctrl-C does.
    with open(output, "w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "localdev", *args],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def processes_under(folder: Path) -> list[psutil.Process]:
    """Processes whose command line or program lives in `folder` (servers, gunicorn, workers)."""
    found = []
    for process in psutil.process_iter(["cmdline", "exe"]):
        text = " ".join(process.info["cmdline"] or []) + " " + (process.info["exe"] or "")
        if str(folder) in text:
            found.append(process)
    return found


def launcher_tree(launcher: subprocess.Popen, local_dir: Path) -> list[psutil.Process]:
    """The launcher's children (gunicorn, worker and theirs) and its servers."""
    tree = psutil.Process(launcher.pid).children(recursive=True)
    postmaster_pid = int((local_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    redis_pid = int((local_dir / "redis" / "redis.pid").read_text())
    return [*tree, psutil.Process(postmaster_pid), psutil.Process(redis_pid)]


def interrupt_and_wait(launcher: subprocess.Popen) -> int:
    os.killpg(launcher.pid, signal.SIGINT)
    try:
        return launcher.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(launcher.pid, signal.SIGKILL)
        raise


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_run_serves_health_stops_everything_on_ctrl_c_and_reuses_its_data(local_dir, tmp_path):
    port = free_port()
    env = launcher_env(local_dir, tmp_path)
    output = tmp_path / "run.log"
    args = ["run", "--port", str(port), "--web-workers", "1"]

    launcher = start_launcher(args, env, output)
    try:
        running = wait_until(lambda: "Videoflix is running" in output.read_text(), timeout=240)
        assert running, output.read_text()
        status, body = http_get(f"http://127.0.0.1:{port}/api/health/")
        assert status == 200, body
        assert json.loads(body)["checks"]["worker"] == {"ok": True}
        banner = output.read_text()
        assert f"http://127.0.0.1:{port}/api/docs/" in banner
        assert "embedded PostgreSQL, socket" in banner and "embedded Redis, 127.0.0.1:" in banner
        (login,) = json.loads((local_dir / "dev-admin.json").read_text()).values()
        assert f"login {login['email']} / {login['password']} (created now" in banner
        assert (local_dir / "servers.env").read_text().count("DB_HOST=") == 1
        started = launcher_tree(launcher, local_dir)
        assert len(started) >= 5  # worker, gunicorn and its worker, PostgreSQL, Redis
    finally:
        returncode = interrupt_and_wait(launcher)

    assert returncode == 0, output.read_text()
    assert alive(started) == []
    assert alive(processes_under(local_dir)) == []
    assert not (local_dir / "servers.env").exists()

    # The next run finds the same database: the admin created above is still there.
    output_again = tmp_path / "run-again.log"
    launcher = start_launcher(args, env, output_again)
    try:
        running = wait_until(lambda: "Videoflix is running" in output_again.read_text(), timeout=240)
        assert running, output_again.read_text()
        assert f"login {login['email']} / {login['password']}\n" in output_again.read_text()
    finally:
        assert interrupt_and_wait(launcher) == 0
    assert alive(processes_under(local_dir)) == []


def run_to_completion(local_dir, tmp_path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The launcher (`python -m localdev *args`) when it is expected to end on its own."""
    return subprocess.run(
        [sys.executable, "-m", "localdev", *args],
        cwd=BASE_DIR,
        env=launcher_env(local_dir, tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_second_run_refuses_while_another_holds_the_data_folder(local_dir, tmp_path):
    holder = FolderLock(local_dir)
    holder.acquire("make run (pid 4242, http://127.0.0.1:8000/)")
    try:
        result = run_to_completion(local_dir, tmp_path, "run", "--port", str(free_port()))
    finally:
        holder.release()
    assert result.returncode == 1
    assert "another `make run` is already using" in result.stderr
    assert "pid 4242, http://127.0.0.1:8000/" in result.stderr
    assert not (local_dir / "postgres").exists()


def test_run_refuses_a_port_that_is_in_use(local_dir, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_to_completion(local_dir, tmp_path, "run", "--port", str(port))
    assert result.returncode == 1
    assert f"port {port} is in use" in result.stderr
    assert f"make run PORT={port + 1}" in result.stderr


def scratch_folder(output: str) -> Path:
    match = re.search(r"embedded PostgreSQL \(VIDEOFLIX_EMBEDDED=1\), data in (\S+)/postgres/", output)
    assert match, output
    return Path(match.group(1))


def test_test_command_removes_its_servers_when_a_test_fails(local_dir, tmp_path):
    result = run_to_completion(
        local_dir, tmp_path, "test", "--", PROBE, "-k", "fails", "-p", "no:cacheprovider", timeout=300
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "1 failed" in output
    assert "the embedded database answered" in output
    scratch = scratch_folder(output)
    assert not scratch.exists()
    assert alive(processes_under(scratch)) == []


def test_test_command_removes_its_servers_when_interrupted(local_dir, tmp_path):
    marker = tmp_path / "probe-started"
    output = tmp_path / "test.log"
    launcher = start_launcher(
        ["test", "--", PROBE, "-k", "waits", "-p", "no:cacheprovider"],
        launcher_env(local_dir, tmp_path, PROBE_MARKER=str(marker)),
        output,
    )
    try:
        assert wait_until(marker.exists, timeout=240), output.read_text()
        scratch = scratch_folder(output.read_text())
        assert processes_under(scratch), "the embedded servers should run while the test does"
    finally:
        returncode = interrupt_and_wait(launcher)
    assert returncode != 0
    assert not scratch.exists()
    # psutil may still list processes that were reaped a moment ago.
    assert wait_until(lambda: alive(processes_under(scratch)) == [], timeout=10)
