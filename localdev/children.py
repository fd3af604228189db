"""The processes a launcher starts (gunicorn, the RQ worker, manage.py steps), and how they stop."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from localdev import BASE_DIR, log
from localdev.servers import answers, die_with_parent

PYTHON = sys.executable
# Seconds a stopping process gets before it is killed. The RQ worker gets a second SIGTERM
# (cold shutdown: its running job is abandoned, and the stale-video sweep re-queues the video)
# halfway through.
STOP_GRACE_SECONDS = 5


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


def manage(env: dict[str, str], *args: str, capture: bool = False, hint: str = "") -> str:
    """Run a manage.py command; on failure, exit naming it (and what may help)."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        check=False,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    if result.returncode != 0:
        raise SystemExit(f"localdev: manage.py {' '.join(args)} failed (exit {result.returncode}).{hint}")
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
