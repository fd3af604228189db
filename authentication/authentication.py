"""One DRF authentication class for the SPA's cookies and for Bearer clients."""

from rest_framework import exceptions
from rest_framework.authentication import CSRFCheck
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed as JWTAuthenticationFailed

from authentication.cookies import ACCESS_COOKIE, credential_cookies_check
from authentication.sessions import SESSION_CLAIM, session_is_revoked

SESSION_INVALID = "Your session has expired or is not valid. Please log in again."
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


def enforce_csrf(request) -> None:
    """Django's CSRF check, as session authentication applies it; raises PermissionDenied (403)."""

    def no_response(request):  # pragma: no cover - CSRFCheck never calls it
        return None

    check = CSRFCheck(no_response)
    check.process_request(request)
    reason = check.process_view(request, None, (), {})
    if reason:
        raise exceptions.PermissionDenied(f"CSRF check failed: {reason}")


class CookieOrBearerJWTAuthentication(JWTAuthentication):
    """`Authorization: Bearer <access>` first, the `access_token` cookie second.

    A cookie-authenticated request that changes state must carry a valid CSRF token, as with
    Django's session authentication; Bearer requests need none. Refused: tokens of deleted or
    deactivated users, tokens issued before the user's password changed, tokens of a login that
    logged out (authentication.sessions), and any request that names a credential cookie twice
    (authentication.cookies). Every failure is a 401 with one readable message.
    """

    def authenticate(self, request):
        # Duplicated credential cookies are refused even when a Bearer header is used: one rule.
        credential_cookies_check(request.META.get("HTTP_COOKIE"))
        try:
            header = self.get_header(request)
            raw_token = self.get_raw_token(header) if header is not None else None
            from_cookie = raw_token is None
            if from_cookie:
                raw_token = request.COOKIES.get(ACCESS_COOKIE) or None
            if raw_token is None:
                return None
            validated_token = self.get_validated_token(raw_token)
            user = self.get_user(validated_token)
        except JWTAuthenticationFailed as exc:
            raise exceptions.AuthenticationFailed(SESSION_INVALID) from exc

        if from_cookie and request.method not in SAFE_METHODS:
            enforce_csrf(request)
        return user, validated_token

    def get_user(self, validated_token):
        """simplejwt's user checks (exists, active, password unchanged), then the session's logout."""
        user = super().get_user(validated_token)
        if session_is_revoked(session_id=validated_token.get(SESSION_CLAIM)):
            raise JWTAuthenticationFailed("This session has been logged out.", code="session_revoked")
        return user

    def authenticate_header(self, request):
        return f'Bearer realm="{self.www_authenticate_realm}"'
