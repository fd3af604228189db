"""Account emails: HTML with a plain-text alternative, links into the SPA.

Links are FRONTEND_URL + EMAIL_VERIFICATION_PATH / PASSWORD_RESET_PATH + `?uid=…&token=…`, the
query the SPA's pages read. Tokens are made at sending time, from the account as it is then.
"""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from authentication.models import User
from authentication.tokens import account_activation_token, password_reset_token

TEMPLATE_DIR = "authentication/email"


def frontend_link(*, path: str, user: User, token: str) -> str:
    query = urlencode({"uid": urlsafe_base64_encode(force_bytes(user.pk)), "token": token})
    return f"{settings.FRONTEND_URL.rstrip('/')}/{path.lstrip('/')}?{query}"


def _send(*, user: User, subject: str, template: str, context: dict) -> None:
    context = {"email": user.email, "frontend_url": settings.FRONTEND_URL, **context}
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{TEMPLATE_DIR}/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )
    message.attach_alternative(render_to_string(f"{TEMPLATE_DIR}/{template}.html", context), "text/html")
    message.send()


def _hours(seconds: int) -> int:
    return max(1, round(seconds / 3600))


@dataclass(frozen=True)
class _LinkEmail:
    template: str
    subject: str
    path_setting: str
    timeout_setting: str
    token_generator: PasswordResetTokenGenerator


ACTIVATION = _LinkEmail(
    "activation",
    "Confirm your email address for Videoflix",
    "EMAIL_VERIFICATION_PATH",
    "ACCOUNT_ACTIVATION_TIMEOUT",
    account_activation_token,
)
PASSWORD_RESET = _LinkEmail(
    "password_reset",
    "Reset your Videoflix password",
    "PASSWORD_RESET_PATH",
    "PASSWORD_RESET_TIMEOUT",
    password_reset_token,
)


def _send_link(*, user: User, email: _LinkEmail, **context) -> None:
    """Send a one-time link made now, from the account as it is now."""
    path = getattr(settings, email.path_setting)
    link = frontend_link(path=path, user=user, token=email.token_generator.make_token(user))
    valid_hours = _hours(getattr(settings, email.timeout_setting))
    context = {"link": link, "valid_hours": valid_hours, **context}
    _send(user=user, subject=email.subject, template=email.template, context=context)


def email_send_activation(*, user: User, again: bool = False) -> bool:
    """Send a fresh activation link; False (nothing sent) if the account was activated meanwhile.

    `again`: the address was registered again; the email says the password did not change and
    points to the password reset.
    """
    if user.is_active or user.was_ever_activated:
        return False
    _send_link(user=user, email=ACTIVATION, again=again)
    return True


def email_send_existing_account(*, user: User) -> bool:
    """Tell the owner of an active account that someone tried to register their address."""
    if not user.is_active:
        return False
    _send(user=user, subject="You already have a Videoflix account", template="existing_account", context={})
    return True


def email_send_password_reset(*, user: User) -> bool:
    """Send a password reset link; False (nothing sent) if the account is no longer active."""
    if not user.is_active or not user.has_usable_password():
        return False
    _send_link(user=user, email=PASSWORD_RESET)
    return True
