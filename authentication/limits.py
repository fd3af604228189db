"""Limits on password guessing and on account emails, counted in the Redis cache.

Login (`/api/login/` and `/api/token/`, shared counters) counts failures only, never successes:

- per client address: after `login_ip` failures in its window, that client is refused (429)
  without its password being checked, for every address;
- per email address, across clients: after failures from `login_email` *different* clients in
  its window, the address is refused to every other client that has not logged into it
  successfully before (a "known client", remembered KNOWN_CLIENT_DAYS). One client failing many
  times never counts as more than one, and a client's own failures never lock the address for
  itself, so a stranger on one address cannot lock the owner out; a known client (the owner's
  usual address) is never refused because of other clients' failures.

The admin login counts failures per (username, client address) pair (`admin_login`), so a
stranger only locks their own pair. Registration and password reset answer the same for every
address; what they limit per address is the emails actually sent (`register_email`,
`password_reset_email`), silently.

Rates are `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` (`N/sec|min|hour|day`), read at call time.
Windows are fixed: they start at the first counted event. The cache ignores Redis outages, so
while Redis is down nothing is counted and nothing is refused (the limits fail open).
"""

from django.core.cache import cache
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from authentication.throttles import email_digest

KNOWN_CLIENT_DAYS = 30
# Scopes of the emails sent per address (email_budget_left, email_sent_record).
REGISTER_EMAILS = "register_email"
PASSWORD_RESET_EMAILS = "password_reset_email"  # noqa: S105 - a scope name


def _rate(scope: str) -> tuple[int, int]:
    """(events, seconds) of a scope's rate."""
    return SimpleRateThrottle.parse_rate(None, api_settings.DEFAULT_THROTTLE_RATES[scope])


def client_ident(request) -> str:
    """The client address as DRF's throttles see it: REMOTE_ADDR, or X-Forwarded-For under NUM_PROXIES."""
    return BaseThrottle().get_ident(request)


def _bump(key: str, seconds: int) -> int:
    """Add one to a fixed-window counter; the window starts with its first event."""
    cache.add(key, 0, timeout=seconds)
    try:
        return cache.incr(key) or 0
    except ValueError:  # The window ended between add and incr.
        cache.add(key, 1, timeout=seconds)
        return 1


def _wait(key: str, seconds: int) -> int:
    """Seconds until a counter's window ends (the whole window when Redis cannot tell)."""
    return cache.ttl(key) or seconds


def _refuse(key: str, seconds: int) -> None:
    raise Throttled(wait=_wait(key, seconds))


def _login_keys(request, email: str) -> dict[str, str]:
    address, client = email_digest(email), client_ident(request)
    return {
        "client": f"login-failures:client:{client}",
        "address": f"login-failures:address:{address}",
        "pair": f"login-failures:pair:{address}:{client}",
        "known": f"login-known-client:{address}:{client}",
    }


def login_attempt_check(*, request, email: str) -> None:
    """Raise Throttled (429) when this attempt must be refused before its password is checked."""
    keys = _login_keys(request, email)
    found = cache.get_many(list(keys.values()))
    client_limit, client_seconds = _rate("login_ip")
    if found.get(keys["client"], 0) >= client_limit:
        _refuse(keys["client"], client_seconds)
    # Only the failures of *other* clients lock the address for this one.
    others = found.get(keys["address"], 0) - (1 if keys["pair"] in found else 0)
    address_limit, address_seconds = _rate("login_email")
    if others >= address_limit and keys["known"] not in found:
        _refuse(keys["address"], address_seconds)


def login_failure_record(*, request, email: str) -> None:
    """Count a failed login for the client, and the client once per window for the address."""
    keys = _login_keys(request, email)
    _bump(keys["client"], _rate("login_ip")[1])
    address_seconds = _rate("login_email")[1]
    if cache.add(keys["pair"], 1, timeout=address_seconds):
        _bump(keys["address"], address_seconds)


def login_success_record(*, request, email: str) -> None:
    """Remember the client as known to the address; successes are never counted as attempts."""
    cache.set(_login_keys(request, email)["known"], 1, timeout=KNOWN_CLIENT_DAYS * 24 * 3600)


def login_address_unlock(*, email: str) -> None:
    """Forget other clients' failures on an address (its owner has just proved it by a reset link)."""
    cache.delete(f"login-failures:address:{email_digest(email)}")


def admin_login_wait(*, request, username: str) -> int | None:
    """Seconds to wait while the (username, client) pair has used up its failures; else None."""
    key = _admin_key(request, username)
    limit, seconds = _rate("admin_login")
    return _wait(key, seconds) if (cache.get(key) or 0) >= limit else None


def admin_login_failure_record(*, request, username: str) -> None:
    _bump(_admin_key(request, username), _rate("admin_login")[1])


def _admin_key(request, username: str) -> str:
    return f"admin-login-failures:{email_digest(username)}:{client_ident(request)}"


def _emails_key(scope: str, email: str) -> str:
    return f"emails-sent:{scope}:{email_digest(email)}"


def email_budget_left(*, scope: str, email: str) -> bool:
    """Whether the address may receive one more email of `scope` in the current window."""
    return (cache.get(_emails_key(scope, email)) or 0) < _rate(scope)[0]


def email_sent_record(*, scope: str, email: str) -> None:
    """Count an email that was sent (a failed attempt that RQ retries is not counted)."""
    _bump(_emails_key(scope, email), _rate(scope)[1])
