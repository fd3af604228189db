"""Request validation and response shapes for the account endpoints.

Response serializers only describe bodies for the OpenAPI schema; the views build the bodies.
"""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from authentication.models import User
from core.exceptions import ErrorSerializer

PASSWORDS_DO_NOT_MATCH = "The passwords do not match."
PASSWORD_MAX_LENGTH = 256


def _password_field(**kwargs) -> serializers.CharField:
    # Passwords are taken exactly as typed: no whitespace trimming.
    return serializers.CharField(
        write_only=True,
        trim_whitespace=False,
        max_length=PASSWORD_MAX_LENGTH,
        style={"input_type": "password"},
        **kwargs,
    )


class _EmailField(serializers.EmailField):
    def __init__(self, **kwargs):
        super().__init__(max_length=254, **kwargs)

    def to_internal_value(self, data):
        return User.objects.normalize_email(super().to_internal_value(data))


class RegisterSerializer(serializers.Serializer):
    """The SPA also sends `privacy_policy`; unknown fields are ignored."""

    email = _EmailField()
    password = _password_field()
    confirmed_password = _password_field()

    def validate(self, attrs):
        errors = {}
        if attrs["password"] != attrs["confirmed_password"]:
            errors["confirmed_password"] = [PASSWORDS_DO_NOT_MATCH]
        try:
            validate_password(attrs["password"], user=User(email=attrs["email"]))
        except DjangoValidationError as exc:
            errors["password"] = list(exc.messages)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class CredentialsSerializer(serializers.Serializer):
    email = _EmailField()
    password = _password_field()


class RefreshInputSerializer(serializers.Serializer):
    """Bearer clients send the refresh token in the body; the SPA sends an empty body and the cookie."""

    refresh = serializers.CharField(required=False, write_only=True)


class PasswordResetSerializer(serializers.Serializer):
    email = _EmailField()


class PasswordConfirmSerializer(serializers.Serializer):
    new_password = _password_field()
    confirm_password = _password_field()

    def validate(self, attrs):
        if attrs["new_password"] != attrs["confirm_password"]:
            raise serializers.ValidationError({"confirm_password": [PASSWORDS_DO_NOT_MATCH]})
        return attrs


# --- Response bodies (schema only) -------------------------------------------------------------
class RegisteredUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()


class RegisterResponseSerializer(serializers.Serializer):
    user = RegisteredUserSerializer()


class LoginUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.EmailField(help_text="The account's email address.")
    email = serializers.EmailField()


class LoginResponseSerializer(serializers.Serializer):
    detail = serializers.CharField()
    user = LoginUserSerializer()


class TokenPairResponseSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class TokenRefreshResponseSerializer(serializers.Serializer):
    detail = serializers.CharField()
    access = serializers.CharField()
    refresh = serializers.CharField(
        required=False, help_text="Only when the refresh token came in the body; cookie clients get a cookie."
    )


class MessageResponseSerializer(serializers.Serializer):
    message = serializers.CharField()


class DetailResponseSerializer(serializers.Serializer):
    detail = serializers.CharField()


class ActivationErrorResponseSerializer(ErrorSerializer):
    """The API's error shape (core.exceptions) plus the `message` the activation page reads."""

    message = serializers.CharField()
