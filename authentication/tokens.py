"""One-time tokens for the links in account emails.

Activation and password-reset tokens are HMACs over user state that changes when the link is
used, so each link works once. They use different salts, so one kind never passes as the other.
"""

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int


class AccountActivationTokenGenerator(PasswordResetTokenGenerator):
    """Valid until the account is activated, or ACCOUNT_ACTIVATION_TIMEOUT seconds have passed."""

    key_salt = "authentication.tokens.AccountActivationTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        activated_at = "" if user.activated_at is None else user.activated_at.isoformat()
        return f"{user.pk}{user.password}{user.is_active}{activated_at}{user.email}{timestamp}"

    def check_token(self, user, token):
        if not (user and token):
            return False
        try:
            timestamp_b36, _ = token.split("-")
            timestamp = base36_to_int(timestamp_b36)
        except ValueError:
            return False
        if not any(
            constant_time_compare(self._make_token_with_timestamp(user, timestamp, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        ):
            return False
        return self._num_seconds(self._now()) - timestamp <= settings.ACCOUNT_ACTIVATION_TIMEOUT


account_activation_token = AccountActivationTokenGenerator()
# Django's generator hashes the password and last login: a reset or a login ends the link.
password_reset_token = PasswordResetTokenGenerator()
