"""RQ jobs that send account emails. Queued by authentication.services after commit.

Each job loads the account (by id, or for the password reset by address, so that the request
never looks it up) and calls one function in authentication.emails. Jobs queued by the public
endpoints take one email from the address's silent budget first (authentication.limits); staff
resends do not. A failure is logged and raised again, so RQ's bounded retry policy (set when
queueing) applies.
"""

import functools
import logging
from collections.abc import Callable

from rq import get_current_job

from authentication import emails, limits
from authentication.models import User
from authentication.selectors import user_get_by_email

logger = logging.getLogger(__name__)


def _send(*, kind: str, user: User | None, send: Callable[..., bool], limit: str | None) -> bool:
    if user is None:
        logger.info("Not sending the %s email: the account no longer exists (or never did).", kind)
        return False
    if limit is not None and not limits.email_budget_left(scope=limit, email=user.email):
        logger.info(
            "Not sending the %s email to user %s: its address's email budget is spent.", kind, user.pk
        )
        return False
    try:
        sent = send(user=user)
    except Exception:
        job = get_current_job()
        retries_left = job.retries_left if job is not None and job.retries_left else 0
        logger.warning(
            "Sending the %s email to user %s failed; %s.",
            kind,
            user.pk,
            f"{retries_left} retries left" if retries_left else "giving up",
            exc_info=True,
        )
        raise
    if not sent:
        logger.info("Not sending the %s email to user %s: no longer applies.", kind, user.pk)
    elif limit is not None:
        limits.email_sent_record(scope=limit, email=user.email)
    return sent


def send_activation_email(user_id: int, limit: str | None = None, again: bool = False) -> bool:
    """`again`: the address was registered again; the email also points to the password reset."""
    send = functools.partial(emails.email_send_activation, again=again)
    return _send(kind="activation", user=User.objects.filter(pk=user_id).first(), send=send, limit=limit)


def send_existing_account_email(user_id: int, limit: str | None = None) -> bool:
    user = User.objects.filter(pk=user_id).first()
    return _send(kind="existing account", user=user, send=emails.email_send_existing_account, limit=limit)


def send_password_reset_email(email: str) -> bool:
    """Look the address up and send a reset link if it is an active account's; nothing otherwise."""
    user = user_get_by_email(email=email)
    if user is not None and not (user.is_active and user.has_usable_password()):
        user = None  # Not counted against the budget: nothing would be sent.
    return _send(
        kind="password reset",
        user=user,
        send=emails.email_send_password_reset,
        limit=limits.PASSWORD_RESET_EMAILS,
    )
