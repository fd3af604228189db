"""Versioned cache keys for the catalogue.

Every cached catalogue answer is stored under a key that contains the current catalogue version;
`catalogue_invalidate()` bumps the version, so all earlier answers become unreachable at once.
Both helpers fail open: with Redis down, reads miss and the database answers.
"""

from django.core.cache import cache

VERSION_KEY = "video:catalogue:version"


def catalogue_version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        version = 1
        cache.add(VERSION_KEY, version, timeout=None)
    return int(version)


def catalogue_invalidate() -> None:
    """Call after anything that changes what the catalogue shows (rows, categories, statuses)."""
    try:
        cache.incr(VERSION_KEY)
    except ValueError:
        cache.set(VERSION_KEY, 2, timeout=None)
