"""One DRF authentication class for the SPA's cookies and for Bearer clients."""

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import CSRFCheck
from rest_framework_simplejwt.authentication import JWTAuthentication

ACCESS_COOKIE = "access_token"
REFRESH_COOKIE = "refresh_token"


def _enforce_csrf(request):
    def dummy_get_response(request):  # pragma: no cover - never called
        return None

    check = CSRFCheck(dummy_get_response)
    check.process_request(request)
    reason = check.process_view(request, None, (), {})
    if reason:
        raise exceptions.PermissionDenied(f"CSRF check failed: {reason}")


class CookieOrBearerJWTAuthentication(JWTAuthentication):
    """`Authorization: Bearer <access>` first, the `access_token` cookie second.

    A cookie-authenticated request that changes state must carry a valid CSRF token, as with
    Django's session authentication; Bearer requests need none.
    """

    def authenticate(self, request):
        header = self.get_header(request)
        if header is not None:
            return super().authenticate(request)

        raw_token = request.COOKIES.get(ACCESS_COOKIE)
        if not raw_token:
            return None
        validated_token = self.get_validated_token(raw_token)
        user = self.get_user(validated_token)
        if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE"):
            _enforce_csrf(request)
        return user, validated_token

    def authenticate_header(self, request):
        return f'Bearer realm="{getattr(settings, "JWT_REALM", "api")}"'
