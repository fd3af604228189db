"""The SPA's JWT cookies: HttpOnly, SameSite from JWT_COOKIE_SAMESITE, Secure from JWT_COOKIE_SECURE."""

from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

ACCESS_COOKIE = "access_token"
REFRESH_COOKIE = "refresh_token"
COOKIE_PATH = "/"


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
