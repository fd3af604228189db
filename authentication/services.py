"""Everything in accounts that writes or has side effects.

Services raise DRF exceptions with human-readable messages; core.exceptions turns them into the
API's one error shape.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

import django_rq
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import update_last_login
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from redis.exceptions import RedisError
from rest_framework.exceptions import AuthenticationFailed, ValidationError
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password
from rq import Retry

from authentication import limits, tasks
from authentication.models import User
from authentication.selectors import user_get_by_email, user_get_by_uidb64
from authentication.sessions import SESSION_CLAIM, session_id_new, session_id_of, session_revoke
from authentication.tokens import account_activation_token, password_reset_token

logger = logging.getLogger(__name__)

LOGIN_FAILED = "The email address or password is incorrect, or the account has not been activated yet."
ACTIVATION_LINK_INVALID = "This activation link is invalid, has already been used or has expired."
RESET_LINK_INVALID = "This password reset link is invalid, has already been used or has expired."
REFRESH_INVALID = "Your session has expired or is no longer valid. Please log in again."

EMAIL_QUEUE = "default"
# A failed send is tried again after 10 s, 1 min and 5 min, then given up and kept in the failed registry.
EMAIL_JOB_RETRY = {"max": 3, "interval": [10, 60, 300]}
EMAIL_JOB_TIMEOUT = 120


class InvalidLink(ValidationError):
    """An activation or password-reset link that is malformed, foreign, used or expired."""


@dataclass(frozen=True)
class Registration:
    id: int
    email: str


def _email_job_enqueue(*, task: Callable[..., bool], argument: int | str, **options) -> None:
    """Queue an email job once the current transaction commits; a Redis outage is logged, not raised.

    `argument` is the user id, or for the password reset the address (the job looks it up).
    """

    def enqueue() -> None:
        try:
            # commit_mode="auto": this already runs after the commit, so queue at once.
            django_rq.get_queue(EMAIL_QUEUE, commit_mode="auto").enqueue(
                task,
                args=(argument,),
                kwargs=options,
                retry=Retry(**EMAIL_JOB_RETRY),
                job_timeout=EMAIL_JOB_TIMEOUT,
            )
        except RedisError:
            logger.exception("Could not queue %s.", task.__name__)

    transaction.on_commit(enqueue)


def _user_id_unused() -> int:
    """Draw a fresh value from the user id sequence, exactly as creating an account does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [User._meta.db_table])
        return cursor.fetchone()[0]


def user_register(*, email: str, password: str) -> Registration:
    """Create an inactive account and email its activation link after commit.

    An address that already has an account gets the same kind of answer (with a fresh, unused id,
    as a new account would), so the response never tells whether it exists, and the account is
    never changed: a never-activated owner gets a fresh activation link that also points to the
    password reset, an active owner a "you already have an account" email, a deactivated one
    nothing. The emails per address are limited silently (THROTTLE_REGISTER_EMAIL).
    """
    email = User.objects.normalize_email(email)
    existing = user_get_by_email(email=email)
    if existing is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(email=email, password=password)
        except IntegrityError:
            # Registered concurrently a moment ago: answer as for any existing address.
            existing = user_get_by_email(email=email)
            if existing is None:
                raise
        else:
            _email_job_enqueue(
                task=tasks.send_activation_email, argument=user.pk, limit=limits.REGISTER_EMAILS
            )
            return Registration(id=user.pk, email=user.email)

    make_password(password)  # The same hashing work as a new account, so timing tells nothing.
    if existing.is_active:
        _email_job_enqueue(
            task=tasks.send_existing_account_email, argument=existing.pk, limit=limits.REGISTER_EMAILS
        )
    elif not existing.was_ever_activated:
        _email_job_enqueue(
            task=tasks.send_activation_email, argument=existing.pk, limit=limits.REGISTER_EMAILS, again=True
        )
    return Registration(id=_user_id_unused(), email=email)


def user_activate(*, uidb64: str, token: str) -> User:
    """Activate the account an activation link names; raises InvalidLink if the link is not valid."""
    candidate = user_get_by_uidb64(uidb64=uidb64)
    if candidate is None:
        raise InvalidLink(ACTIVATION_LINK_INVALID)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=candidate.pk)
        if user.is_active or user.was_ever_activated or not account_activation_token.check_token(user, token):
            raise InvalidLink(ACTIVATION_LINK_INVALID)
        user.is_active = True
        user.activated_at = timezone.now()
        user.save(update_fields=["is_active", "activated_at"])
    return user


def user_activate_by_staff(*, users: QuerySet[User]) -> int:
    """Activate the given accounts without a link (the admin action); returns how many changed."""
    now = timezone.now()
    changed = 0
    with transaction.atomic():
        for user in users.select_for_update().filter(is_active=False):
            user.is_active = True
            user.activated_at = user.activated_at or now
            user.save(update_fields=["is_active", "activated_at"])
            changed += 1
    return changed


def user_activation_email_resend(*, user: User) -> bool:
    """Queue a fresh activation email for a never-activated account; False if it does not need one."""
    if user.is_active or user.was_ever_activated:
        return False
    _email_job_enqueue(task=tasks.send_activation_email, argument=user.pk)
    return True


def user_login(*, request, email: str, password: str) -> tuple[User, RefreshToken]:
    """Check the credentials and issue a refresh token (with its access token).

    Raises Throttled before checking anything when the client, or the address for an unknown
    client, has used up its failures (authentication.limits). Raises one generic ValidationError
    for an unknown address, a wrong password or an inactive account, after the same
    password-hashing work in each case, and counts it as a failure; a success is never counted.
    """
    email = User.objects.normalize_email(email)
    limits.login_attempt_check(request=request, email=email)
    user = authenticate(request, email=email, password=password)
    if user is None or not user.is_active:
        limits.login_failure_record(request=request, email=email)
        raise ValidationError(LOGIN_FAILED)
    limits.login_success_record(request=request, email=email)
    refresh = _refresh_token_issue(user=user, session_id=session_id_new())
    update_last_login(None, user)
    return user, refresh


def _refresh_token_issue(*, user: User, session_id: str) -> RefreshToken:
    """A refresh token of the session; its access tokens copy the session id."""
    refresh = RefreshToken.for_user(user)
    refresh[SESSION_CLAIM] = session_id
    return refresh


def _token_password_is_current(*, token: RefreshToken, user: User) -> bool:
    """False for a token issued before the user's password last changed (CHECK_REVOKE_TOKEN)."""
    return token.get(jwt_settings.REVOKE_TOKEN_CLAIM) == get_md5_hash_password(user.password)


def token_refresh(*, raw_token: str) -> RefreshToken:
    """Exchange a refresh token for a new one (the old one is blacklisted: rotation).

    Raises AuthenticationFailed for a token that is malformed, foreign, expired, blacklisted or
    already used, issued before the password last changed, or whose user was deleted or
    deactivated. Two concurrent uses of one token cannot both succeed. The new token keeps the
    session id, so logout still reaches every access token of the login.
    """
    try:
        with transaction.atomic():
            old = RefreshToken(raw_token)
            outstanding = (
                OutstandingToken.objects.select_for_update().filter(jti=old[jwt_settings.JTI_CLAIM]).first()
            )
            if outstanding is None or BlacklistedToken.objects.filter(token=outstanding).exists():
                raise TokenError("The refresh token is blacklisted or unknown.")
            user = User.objects.filter(pk=old.get(jwt_settings.USER_ID_CLAIM)).first()
            if user is None or not user.is_active or not _token_password_is_current(token=old, user=user):
                raise TokenError("The token's user is gone or inactive, or the password changed.")
            BlacklistedToken.objects.create(token=outstanding)
            return _refresh_token_issue(user=user, session_id=old.get(SESSION_CLAIM) or session_id_new())
    except TokenError as exc:
        raise AuthenticationFailed(REFRESH_INVALID) from exc


def session_logout(*, raw_token: str) -> bool:
    """End the login a refresh token belongs to: blacklist the token and revoke its session, so
    its access tokens stop working at once. False if the refresh token was already unusable
    (invalid, expired or blacklisted); a validly signed one still has its session revoked."""
    session_id = session_id_of(raw_token)
    if session_id is not None:
        session_revoke(session_id=session_id)
    try:
        RefreshToken(raw_token).blacklist()
    except TokenError:
        return False
    return True


def user_refresh_tokens_blacklist(*, user: User) -> int:
    """Blacklist every refresh token issued to the user (log out everywhere); returns how many."""
    pending = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in pending], ignore_conflicts=True
    )
    return len(created)


def password_reset_request(*, email: str) -> None:
    """Queue the reset email job after commit, without looking the address up.

    The job finds the account and sends only to an active one (within the address's silent email
    budget), so the request does the same work, in the same time, for every address.
    """
    _email_job_enqueue(task=tasks.send_password_reset_email, argument=User.objects.normalize_email(email))


def password_reset_confirm(*, uidb64: str, token: str, new_password: str) -> User:
    """Set a new password through a reset link and log the account out everywhere.

    Raises InvalidLink for a bad, foreign, used or expired link, and a ValidationError on
    `new_password` when the password validators reject it.
    """
    candidate = user_get_by_uidb64(uidb64=uidb64)
    if candidate is None:
        raise InvalidLink(RESET_LINK_INVALID)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=candidate.pk)
        if not user.is_active or not password_reset_token.check_token(user, token):
            raise InvalidLink(RESET_LINK_INVALID)
        try:
            validate_password(new_password, user=user)
        except DjangoValidationError as exc:
            raise ValidationError({"new_password": list(exc.messages)}) from exc
        user.set_password(new_password)
        user.save(update_fields=["password"])
        user_refresh_tokens_blacklist(user=user)
    # The owner proved the address: other clients' failures no longer lock it.
    limits.login_address_unlock(email=user.email)
    return user
