"""Rate limits for the account endpoints, per client IP and per email address.

Counters live in the default (Redis) cache. That cache ignores Redis outages, so while Redis is
down the limits are not enforced (they fail open) rather than refusing every login: see
docs/AUTHENTICATION.md. Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], read at request
time.
"""

import hashlib

from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from authentication.models import User


def email_digest(email: str) -> str:
    """The key of an address in the counters: its canonical form, hashed (no address in Redis)."""
    return hashlib.sha256(User.objects.normalize_email(email).encode()).hexdigest()


class _ScopedRateThrottle(SimpleRateThrottle):
    def get_rate(self):
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError as exc:
            raise ImproperlyConfigured(f"No throttle rate is set for the scope {self.scope!r}.") from exc


class _IpThrottle(_ScopedRateThrottle):
    """Counts requests per client address (REMOTE_ADDR, or X-Forwarded-For behind NUM_PROXIES)."""

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class _EmailThrottle(_ScopedRateThrottle):
    """Counts requests per normalised email address in the body; the address is stored hashed."""

    def get_cache_key(self, request, view):
        get = getattr(request.data, "get", None)
        email = get("email") if get is not None else None
        if not isinstance(email, str) or not email.strip():
            return None
        return self.cache_format % {"scope": self.scope, "ident": email_digest(email)}


# Login and POST /api/token/ share their scopes: alternating endpoints gains nothing.
class LoginIpThrottle(_IpThrottle):
    scope = "login_ip"


class LoginEmailThrottle(_EmailThrottle):
    scope = "login_email"


class RegisterIpThrottle(_IpThrottle):
    scope = "register_ip"


class RegisterEmailThrottle(_EmailThrottle):
    scope = "register_email"


class PasswordResetIpThrottle(_IpThrottle):
    scope = "password_reset_ip"


class PasswordResetEmailThrottle(_EmailThrottle):
    scope = "password_reset_email"
