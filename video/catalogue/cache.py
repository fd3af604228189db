"""Versioned cache of catalogue answers.

Every cached answer is stored under a key that contains the current catalogue version;
`catalogue_invalidate()` bumps the version, so all earlier answers become unreachable at once.
Both fail open: with Redis down, reads miss and the database answers.

A missing version (first use, eviction, flushed Redis) starts again from the current time in
milliseconds rather than from 1, so a reset can never make an old answer reachable again.
"""

import hashlib
import json
import threading
import time

from django.core.cache import cache

VERSION_KEY = "video:catalogue:version"
MISSING = object()
# Answers each process keeps for the current version (one per distinct query), beyond which it
# starts again; the shared copy in Redis is unaffected.
LOCAL_ANSWERS = 256


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


def catalogue_invalidate() -> None:
    """Call after anything that changes what the catalogue shows (rows, categories, statuses)."""
    try:
        cache.incr(VERSION_KEY)
    except ValueError:
        cache.set(VERSION_KEY, _fresh_version(), timeout=None)


def catalogue_key(kind: str, version: int, **parts) -> str:
    """A key for one catalogue answer: its kind, the catalogue version and a digest of ``parts``."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return f"video:catalogue:{version}:{kind}:{digest}"


class _CurrentVersionAnswers(threading.local):
    """This thread's answers for one catalogue version; a new version starts an empty dict."""

    version: int | None = None
    answers: dict

    def for_version(self, version: int) -> dict:
        if version != self.version or len(self.answers) >= LOCAL_ANSWERS:
            self.version, self.answers = version, {}
        return self.answers


_local = _CurrentVersionAnswers()


def catalogue_cached(kind: str, compute, **parts):
    """``compute()``'s value for this catalogue version, from this thread's memory, else Redis,
    else computed and stored in both. One Redis round trip (the version) on a local hit; during a
    Redis outage every call computes."""
    version, confirmed = catalogue_state()
    if not confirmed:
        return compute()
    key = catalogue_key(kind, version, **parts)
    local = _local.for_version(version)
    value = local.get(key, MISSING)
    if value is MISSING:
        value = cache.get(key, MISSING)
        if value is MISSING:
            value = compute()
            cache.set(key, value)
        local[key] = value
    return value
