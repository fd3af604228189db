"""Versioned cache keys for the catalogue.

Every cached catalogue answer is stored under a key that contains the current catalogue version;
`catalogue_invalidate()` bumps the version, so all earlier answers become unreachable at once.
Both helpers fail open: with Redis down, reads miss and the database answers.

A missing version (first use, eviction, flushed Redis) starts again from the current time in
milliseconds rather than from 1, so a reset can never make an old answer reachable again.
"""

import hashlib
import json
import threading
import time
from collections import OrderedDict

from django.core.cache import cache

VERSION_KEY = "video:catalogue:version"
MISSING = object()


def _fresh_version() -> int:
    return time.time_ns() // 1_000_000


def catalogue_state() -> tuple[int, bool]:
    """The current catalogue version, and whether Redis vouched for it.

    With Redis unreachable the version is a throw-away value and ``False``: nothing cached under
    it may be trusted, so callers go to the database.
    """
    version = cache.get(VERSION_KEY)
    if version is not None:
        return int(version), True
    fresh = _fresh_version()
    if cache.add(VERSION_KEY, fresh, timeout=None):
        return fresh, True
    version = cache.get(VERSION_KEY)
    if version is not None:
        return int(version), True
    return fresh, False


def catalogue_version() -> int:
    return catalogue_state()[0]


def catalogue_invalidate() -> None:
    """Call after anything that changes what the catalogue shows (rows, categories, statuses)."""
    try:
        cache.incr(VERSION_KEY)
    except ValueError:
        cache.set(VERSION_KEY, _fresh_version(), timeout=None)


def catalogue_key(kind: str, version: int | None = None, **parts) -> str:
    """A key for one catalogue answer: its kind, the catalogue version and a digest of ``parts``."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]
    if version is None:
        version = catalogue_version()
    return f"video:catalogue:{version}:{kind}:{digest}"


class LocalMemo:
    """A small per-process LRU map. Keys contain the catalogue version, so a bump in Redis makes
    every entry unreachable in every process at once; old entries simply age out."""

    def __init__(self, size: int):
        self._size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._items.get(key, MISSING)
            if value is not MISSING:
                self._items.move_to_end(key)
            return value

    def set(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_memo = LocalMemo(size=512)


def catalogue_cached(kind: str, compute, *, shared: bool = True, **parts):
    """``compute()``'s value for this catalogue version, from this process's memory, else Redis
    (when ``shared``), else computed and stored in both.

    One Redis round trip (the version) on a local hit. During a Redis outage every call computes.
    """
    version, confirmed = catalogue_state()
    key = catalogue_key(kind, version, **parts)
    if confirmed:
        value = _memo.get(key)
        if value is not MISSING:
            return value
    value = cache.get(key, MISSING) if shared and confirmed else MISSING
    if value is MISSING:
        value = compute()
        if shared and confirmed:
            cache.set(key, value)
    if confirmed:
        _memo.set(key, value)
    return value
