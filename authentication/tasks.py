"""RQ jobs that send account emails. Queued by authentication.services after commit.

Each job takes a user id, loads the row and calls one function in authentication.emails. A
failure is logged and raised again, so RQ's bounded retry policy (set when queueing) applies.
"""

import logging
from collections.abc import Callable

from rq import get_current_job

from authentication import emails
from authentication.models import User

logger = logging.getLogger(__name__)


def _send(*, kind: str, user_id: int, send: Callable[..., bool]) -> bool:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        logger.info("Not sending the %s email: user %s no longer exists.", kind, user_id)
        return False
    try:
        sent = send(user=user)
    except Exception:
        job = get_current_job()
        retries_left = job.retries_left if job is not None and job.retries_left else 0
        logger.warning(
            "Sending the %s email to user %s failed; %s.",
            kind,
            user_id,
            f"{retries_left} retries left" if retries_left else "giving up",
            exc_info=True,
        )
        raise
    if not sent:
        logger.info("Not sending the %s email to user %s: no longer applies.", kind, user_id)
    return sent


def send_activation_email(user_id: int) -> bool:
    return _send(kind="activation", user_id=user_id, send=emails.email_send_activation)


def send_existing_account_email(user_id: int) -> bool:
    return _send(kind="existing account", user_id=user_id, send=emails.email_send_existing_account)


def send_password_reset_email(user_id: int) -> bool:
    return _send(kind="password reset", user_id=user_id, send=emails.email_send_password_reset)
