"""The SPA's JWT cookies: HttpOnly, SameSite from JWT_COOKIE_SAMESITE, Secure from JWT_COOKIE_SECURE.

Reading them follows one rule: a Cookie header that names `access_token` or `refresh_token` more
than once is refused with a 401. Servers disagree on which duplicate counts (nginx takes the
first, Django the last), so picking one would let a request be judged on one token and cached or
served on another.
"""

from django.conf import settings
from django.http.cookie import parse_cookie
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

ACCESS_COOKIE = "access_token"
REFRESH_COOKIE = "refresh_token"
CREDENTIAL_COOKIES = (ACCESS_COOKIE, REFRESH_COOKIE)
COOKIE_PATH = "/"


class DuplicatedCredentialCookie(AuthenticationFailed):
    default_detail = (
        "The request carries more than one access_token or refresh_token cookie, so it is refused. "
        "Please delete this site's cookies and log in again."
    )
    default_code = "duplicated_credential_cookie"


def credential_cookies_check(cookie_header: str | None) -> None:
    """Raise DuplicatedCredentialCookie when a raw Cookie header names a credential cookie twice."""
    if not cookie_header:
        return
    names = [chunk.split("=", 1)[0].strip() for chunk in cookie_header.split(";") if "=" in chunk]
    if any(names.count(name) > 1 for name in CREDENTIAL_COOKIES):
        raise DuplicatedCredentialCookie()


def credential_cookie_get(request, name: str) -> str | None:
    """The value of a credential cookie (None when absent or empty), after the duplicate check."""
    cookie_header = request.META.get("HTTP_COOKIE")
    credential_cookies_check(cookie_header)
    return parse_cookie(cookie_header or "").get(name) or None


def _set(response, *, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=settings.JWT_COOKIE_SECURE,
        httponly=True,
        samesite=settings.JWT_COOKIE_SAMESITE,
    )


def jwt_cookies_set(response, *, access: str, refresh: str) -> None:
    """Both cookies, each living exactly as long as its token (SIMPLE_JWT's lifetimes)."""
    _set(
        response,
        name=ACCESS_COOKIE,
        value=access,
        max_age=int(AccessToken.lifetime.total_seconds()),
    )
    _set(
        response,
        name=REFRESH_COOKIE,
        value=refresh,
        max_age=int(RefreshToken.lifetime.total_seconds()),
    )


def jwt_cookies_delete(response) -> None:
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        response.delete_cookie(name, path=COOKIE_PATH, samesite=settings.JWT_COOKIE_SAMESITE)
