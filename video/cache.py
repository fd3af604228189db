"""Versioned cache keys for the catalogue.

Every cached catalogue answer is stored under a key that contains the current catalogue version;
`catalogue_invalidate()` bumps the version, so all earlier answers become unreachable at once.
Both helpers fail open: with Redis down, reads miss and the database answers.

A missing version (first use, eviction, flushed Redis) starts again from the current time in
milliseconds rather than from 1, so a reset can never make an old answer reachable again.
"""

import hashlib
import json
import time

from django.core.cache import cache

VERSION_KEY = "video:catalogue:version"


def _fresh_version() -> int:
    return time.time_ns() // 1_000_000


def catalogue_version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        version = _fresh_version()
        if not cache.add(VERSION_KEY, version, timeout=None):
            version = cache.get(VERSION_KEY, version)
    return int(version)


def catalogue_invalidate() -> None:
    """Call after anything that changes what the catalogue shows (rows, categories, statuses)."""
    try:
        cache.incr(VERSION_KEY)
    except ValueError:
        cache.set(VERSION_KEY, _fresh_version(), timeout=None)


def catalogue_key(kind: str, **parts) -> str:
    """A key for one catalogue answer: its kind, the current version and a digest of ``parts``."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return f"video:catalogue:{catalogue_version()}:{kind}:{digest}"
