"""One launcher per data folder: a second `make run` on the same checkout refuses."""

import fcntl
from pathlib import Path


class AlreadyRunning(RuntimeError):
    """Another launcher holds the lock; the message is what that launcher wrote into it."""


class FolderLock:
    """An exclusive lock on a folder's `run.lock`, held while one launcher uses the folder. The
    kernel releases it when the holder dies, so a crash leaves no stale lock behind."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / "run.lock"
        self._file = None

    def acquire(self, description: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another launcher"
            handle.close()
            raise AlreadyRunning(holder) from None
        handle.seek(0)
        handle.truncate()
        handle.write(description + "\n")
        handle.flush()
        self._file = handle

    def update(self, description: str) -> None:
        self._file.seek(0)
        self._file.truncate()
        self._file.write(description + "\n")
        self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
