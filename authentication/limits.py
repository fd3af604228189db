"""Limits on password guessing and on account emails, counted in the Redis cache.

Login (`/api/login/` and `/api/token/`, shared counters) counts failures only, never successes:

- per client address: after `login_ip` failures in its window, that client is refused (429)
  without its password being checked, for every address;
- per (client, address) pair: after `login_pair` failures, that client is refused for that
  address only;
- per email address, across clients: after failures from `login_email` *different* clients in
  its window, the address is refused to every client that has neither failed on it nor logged
  into it successfully before (a "known client", remembered KNOWN_CLIENT_DAYS).

One client failing many times counts once towards the address, and a client's own failures never
lock the address for it, so a stranger on one address cannot lock the owner out, and a known
client (the owner's usual address) is never refused because of other clients' failures. Guessing
stays bounded: at most about `login_email` clients times `login_pair` failures per window reach
one address.

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
    for counter, scope in (("client", "login_ip"), ("pair", "login_pair")):
        limit, seconds = _rate(scope)
        if found.get(keys[counter], 0) >= limit:
            _refuse(keys[counter], seconds)
    # The address lock holds off newcomers: clients that have already failed on it are bounded
    # by their pair limit instead, and known clients pass.
    limit, seconds = _rate("login_email")
    newcomer = keys["pair"] not in found and keys["known"] not in found
    if newcomer and found.get(keys["address"], 0) >= limit:
        _refuse(keys["address"], seconds)


def login_failure_record(*, request, email: str) -> None:
    """Count a failed login for the client and the pair, and the client once for the address."""
    keys = _login_keys(request, email)
    _bump(keys["client"], _rate("login_ip")[1])
    if _bump(keys["pair"], _rate("login_pair")[1]) == 1:
        _bump(keys["address"], _rate("login_email")[1])


def login_success_record(*, request, email: str) -> None:
    """Remember the client as known to the address; successes are never counted as attempts."""
    cache.set(_login_keys(request, email)["known"], 1, timeout=KNOWN_CLIENT_DAYS * 24 * 3600)


def login_address_unlock(*, email: str) -> None:
    """Forget every client's failures on an address (its owner has just proved it by a reset link)."""
    address = email_digest(email)
    cache.delete(f"login-failures:address:{address}")
    cache.delete_pattern(f"login-failures:pair:{address}:*")


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
