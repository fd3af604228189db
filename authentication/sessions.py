"""Login sessions: one id shared by every token of a login, revoked at logout until tokens expire.

Login puts a random session id in the `sid` claim of the refresh token; its access tokens copy
it, and rotation carries it to the next refresh token. Logout records the id in the Redis cache
for one access-token lifetime (no access token of the session lives longer), and every
authenticated request asks the cache about its token's id: one GET.

The cache fails open: while Redis is unreachable a logged-out session's access tokens work until
they expire, and a logout during the outage is not recorded (its refresh token is still
blacklisted in PostgreSQL). A password change needs no entry here: simplejwt's
CHECK_REVOKE_TOKEN ends every token issued before it (see docs/AUTHENTICATION.md).
"""

import secrets

from django.core.cache import cache
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.tokens import AccessToken

SESSION_CLAIM = "sid"
_KEY = "revoked-session:{}"


def session_id_new() -> str:
    return secrets.token_urlsafe(16)


def session_id_of(raw_token: str) -> str | None:
    """The session id in a token whose signature and expiry hold (blacklisted or not); else None."""
    try:
        payload = token_backend.decode(raw_token)
    except TokenBackendError:
        return None
    session_id = payload.get(SESSION_CLAIM)
    return session_id if isinstance(session_id, str) else None


def session_revoke(*, session_id: str) -> None:
    """Refuse every access token of the session from now until the last of them has expired."""
    cache.set(_KEY.format(session_id), 1, timeout=int(AccessToken.lifetime.total_seconds()) + 1)


def session_is_revoked(*, session_id: str | None) -> bool:
    return session_id is not None and cache.get(_KEY.format(session_id)) is not None
