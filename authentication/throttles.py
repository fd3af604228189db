"""Per-client rate limits of registration and password reset (DRF throttles), and the hashed
address key every account limit uses. Login and email limits are in authentication.limits.

Counters live in the default (Redis) cache. That cache ignores Redis outages, so while Redis is
down the limits are not enforced (they fail open) rather than refusing every request: see
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


class _IpThrottle(SimpleRateThrottle):
    """Counts every request per client address (REMOTE_ADDR, or X-Forwarded-For behind NUM_PROXIES)."""

    def get_rate(self):
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError as exc:
            raise ImproperlyConfigured(f"No throttle rate is set for the scope {self.scope!r}.") from exc

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class RegisterIpThrottle(_IpThrottle):
    scope = "register_ip"


class PasswordResetIpThrottle(_IpThrottle):
    scope = "password_reset_ip"
