"""The account endpoints of the HTTP contract (docs/AUTHENTICATION.md), plus Bearer token endpoints.

None of these views authenticates the request: a stale or broken `access_token` cookie must not
turn a login, a refresh or a logout into a 401. Logout checks CSRF itself when it acts on the
refresh cookie.
"""

from django.middleware.csrf import rotate_token
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from authentication import serializers, services, throttles
from authentication.authentication import CookieOrBearerJWTAuthentication, enforce_csrf
from authentication.cookies import (
    REFRESH_COOKIE,
    credential_cookie_get,
    credential_cookies_check,
    jwt_cookies_delete,
    jwt_cookies_set,
)
from core.exceptions import ErrorSerializer

ACTIVATED = "Account successfully activated."
LOGGED_IN = "Login successful"
LOGGED_OUT = "Logout successful! All tokens will be deleted. Refresh token is now invalid."
REFRESHED = "Token refreshed"
RESET_EMAIL_SENT = "An email has been sent to reset your password."
RESET_DONE = "Your Password has been successfully reset."
NO_REFRESH_COOKIE = "No refresh token was sent: the refresh_token cookie is missing. Please log in."

ERROR = ErrorSerializer
_400 = OpenApiResponse(ERROR, description="Invalid input; field messages are under `errors`.")
_429 = OpenApiResponse(ERROR, description="Too many attempts; see the Retry-After header.")


def _auth_schema(**schema):
    return extend_schema(tags=["auth"], **schema)


def _validated(serializer_class, request) -> dict:
    """The request body checked by a serializer; a ValidationError (400) otherwise."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class _PublicView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)

    def get_authenticate_header(self, request):
        # These views authenticate nobody, but a refused token (refresh, logout) still answers
        # 401 naming the scheme, not DRF's 403 for views without authenticators.
        return CookieOrBearerJWTAuthentication().authenticate_header(request)


@_auth_schema(
    request=serializers.RegisterSerializer,
    responses={
        201: serializers.RegisterResponseSerializer,
        400: OpenApiResponse(ERROR, description="Field errors: invalid email, weak password, mismatch."),
        429: _429,
    },
    summary="Register an account; an activation email follows.",
)
class RegisterView(_PublicView):
    throttle_classes = (throttles.RegisterIpThrottle,)

    def post(self, request):
        data = _validated(serializers.RegisterSerializer, request)
        registration = services.user_register(email=data["email"], password=data["password"])
        return Response(
            {"user": {"id": registration.id, "email": registration.email}}, status=status.HTTP_201_CREATED
        )


@_auth_schema(
    request=None,
    responses={
        200: serializers.MessageResponseSerializer,
        400: OpenApiResponse(
            serializers.ActivationErrorResponseSerializer, description="Bad, used or expired link."
        ),
    },
    summary="Activate an account with the link from its activation email.",
)
class ActivateView(_PublicView):
    def get(self, request, uidb64: str, token: str):
        try:
            services.user_activate(uidb64=uidb64, token=token)
        except services.InvalidLink:
            message = services.ACTIVATION_LINK_INVALID
            return Response(
                {"message": message, "detail": message, "errors": {}}, status=status.HTTP_400_BAD_REQUEST
            )
        return Response({"message": ACTIVATED})


def _credentials_schema(*, success, summary: str):
    return _auth_schema(
        request=serializers.CredentialsSerializer,
        responses={
            200: success,
            400: OpenApiResponse(ERROR, description="One generic message for any wrong credentials."),
            429: _429,
        },
        summary=summary,
    )


class _CredentialsView(_PublicView):
    """Checks email and password; limited inside services.user_login (failures only)."""

    def post(self, request):
        data = _validated(serializers.CredentialsSerializer, request)
        user, refresh = services.user_login(request=request, **data)
        return self.logged_in(request, user=user, refresh=refresh)


@_credentials_schema(
    success=serializers.LoginResponseSerializer,
    summary="Log in: sets the access_token, refresh_token (HttpOnly) and csrftoken cookies.",
)
class LoginView(_CredentialsView):
    def logged_in(self, request, *, user, refresh):
        response = Response(
            {"detail": LOGGED_IN, "user": {"id": user.pk, "username": user.email, "email": user.email}}
        )
        jwt_cookies_set(response, access=str(refresh.access_token), refresh=str(refresh))
        # A fresh CSRF token at login, readable by the SPA, which sends it back on logout.
        rotate_token(request)
        return response


@_credentials_schema(
    success=serializers.TokenPairResponseSerializer,
    summary="Obtain an access/refresh pair for Bearer clients (no cookies).",
)
class TokenObtainView(_CredentialsView):
    def logged_in(self, request, *, user, refresh):
        return Response({"access": str(refresh.access_token), "refresh": str(refresh)})


def _refresh_schema(*, success, refused: dict, summary: str):
    no_token = OpenApiResponse(ERROR, description="No refresh token in the body or the cookie.")
    return _auth_schema(
        request=serializers.RefreshInputSerializer,
        responses={200: success, 400: no_token, **refused},
        summary=summary,
    )


def _refresh_token_in(request) -> tuple[str, bool]:
    """The refresh token from the body (Bearer clients) or the cookie (the SPA): (token, from_body).

    Duplicated credential cookies are refused (401) even when the body carries the token.
    """
    credential_cookies_check(request.META.get("HTTP_COOKIE"))
    data = _validated(serializers.RefreshInputSerializer, request)
    body_token = data.get("refresh")
    if body_token:
        return body_token, True
    cookie_token = credential_cookie_get(request, REFRESH_COOKIE)
    if not cookie_token:
        raise ValidationError(NO_REFRESH_COOKIE)
    return cookie_token, False


@_refresh_schema(
    success=serializers.TokenRefreshResponseSerializer,
    refused={401: OpenApiResponse(ERROR, description="Invalid, expired, used or blacklisted refresh token.")},
    summary="Rotate the refresh token: from the refresh_token cookie, or from the body.",
)
class TokenRefreshView(_PublicView):
    def post(self, request):
        raw_token, from_body = _refresh_token_in(request)
        refresh = services.token_refresh(raw_token=raw_token)
        access = str(refresh.access_token)
        if from_body:
            return Response({"detail": REFRESHED, "access": access, "refresh": str(refresh)})
        response = Response({"detail": REFRESHED, "access": access})
        jwt_cookies_set(response, access=access, refresh=str(refresh))
        return response


@_refresh_schema(
    success=serializers.DetailResponseSerializer,
    refused={
        401: OpenApiResponse(ERROR, description="More than one refresh_token cookie was sent."),
        403: OpenApiResponse(ERROR, description="Cookie logout without a valid X-CSRFToken header."),
    },
    summary="Log out: blacklists the refresh token, ends the session's access tokens, deletes both cookies.",
)
class LogoutView(_PublicView):
    def post(self, request):
        raw_token, from_body = _refresh_token_in(request)
        if not from_body:
            enforce_csrf(request)
        services.session_logout(raw_token=raw_token)
        response = Response({"detail": LOGGED_OUT})
        jwt_cookies_delete(response)
        return response


@_auth_schema(
    request=serializers.PasswordResetSerializer,
    responses={200: serializers.DetailResponseSerializer, 400: _400, 429: _429},
    summary="Email a password reset link; the same answer whether or not the address has an account.",
)
class PasswordResetView(_PublicView):
    throttle_classes = (throttles.PasswordResetIpThrottle,)

    def post(self, request):
        data = _validated(serializers.PasswordResetSerializer, request)
        services.password_reset_request(email=data["email"])
        return Response({"detail": RESET_EMAIL_SENT})


@_auth_schema(
    request=serializers.PasswordConfirmSerializer,
    responses={
        200: serializers.DetailResponseSerializer,
        400: OpenApiResponse(ERROR, description="Mismatch, weak password, or a bad, used or expired link."),
    },
    summary="Set a new password with the link from the reset email.",
)
class PasswordConfirmView(_PublicView):
    def post(self, request, uidb64: str, token: str):
        data = _validated(serializers.PasswordConfirmSerializer, request)
        services.password_reset_confirm(uidb64=uidb64, token=token, new_password=data["new_password"])
        return Response({"detail": RESET_DONE})
