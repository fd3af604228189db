"""Reads of accounts that are more than one line."""

from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode

from authentication.models import User


def user_get_by_email(*, email: str) -> User | None:
    """The account for an address in its canonical form (exact match); None when there is none."""
    return User.objects.filter(email=User.objects.normalize_email(email)).first()


def user_get_by_uidb64(*, uidb64: str) -> User | None:
    """The account a link's `uid` names; None for a malformed or unknown value."""
    try:
        user_id = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    if not 0 < user_id < 2**63:
        return None
    return User.objects.filter(pk=user_id).first()
