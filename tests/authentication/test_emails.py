"""Account emails: content, and delivery by an RQ job after commit with a bounded retry."""

import logging
import socket

import django_rq
import pytest
from django.conf import settings
from django.core import mail
from rq.job import JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from tests.authentication.conftest import link_in

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def unreachable_smtp(settings):
    """A real SMTP backend pointed at a port nobody listens on."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = _closed_port()
    settings.EMAIL_TIMEOUT = 2


def test_activation_email_is_html_with_a_plain_text_alternative(register, run_email_jobs):
    register("new.viewer@example.com")
    run_email_jobs()

    [message] = mail.outbox
    assert message.subject == "Confirm your email address for Videoflix"
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    link = link_in(message)
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert f'href="{link.replace("&", "&amp;")}"' in html
    assert "<" not in message.body


def test_password_reset_email_is_html_with_a_plain_text_alternative(
    api_client, user, run_email_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post("/api/password_reset/", {"email": user.email}, format="json")
    run_email_jobs()

    [message] = mail.outbox
    assert message.subject == "Reset your Videoflix password"
    assert message.to == [user.email]
    assert link_in(message).startswith(settings.FRONTEND_URL + settings.PASSWORD_RESET_PATH + "?uid=")
    assert message.alternatives[0][1] == "text/html"
    assert "expires in 24 hours" in message.body


def test_the_job_is_queued_only_when_the_transaction_commits(api_client, django_capture_on_commit_callbacks):
    queue = django_rq.get_queue("default")
    password = "Sturdy-Passw0rd!"
    body = {"email": "new.viewer@example.com", "password": password, "confirmed_password": password}

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_client.post("/api/register/", body, format="json")
    assert response.status_code == 201
    assert queue.count == 0
    assert mail.outbox == []

    for callback in callbacks:
        callback()
    [job] = queue.get_jobs()
    assert job.func_name == "authentication.tasks.send_activation_email"
    assert job.retries_left == 3
    assert job.retry_intervals == [10, 60, 300]


def test_a_failing_smtp_server_does_not_break_the_request(register, unreachable_smtp):
    response = register("new.viewer@example.com")

    assert response.status_code == 201
    assert django_rq.get_queue("default").count == 1


def test_a_failed_send_is_retried_a_bounded_number_of_times_and_logged(
    register, run_email_jobs, unreachable_smtp, caplog
):
    register("new.viewer@example.com")
    queue = django_rq.get_queue("default")
    [job] = queue.get_jobs()
    scheduled = ScheduledJobRegistry(queue=queue)
    caplog.set_level(logging.WARNING, logger="authentication.tasks")

    run_email_jobs()
    job.refresh()
    assert job.get_status() == JobStatus.SCHEDULED
    assert job.retries_left == 2
    # Do not wait for the retry intervals: put the scheduled job back at once, until RQ gives up.
    for _ in range(3):
        scheduled.requeue(job.id)
        run_email_jobs()

    job.refresh()
    assert job.get_status() == JobStatus.FAILED
    assert job.id in FailedJobRegistry(queue=queue)
    assert mail.outbox == []
    warnings = [record.getMessage() for record in caplog.records if record.name == "authentication.tasks"]
    assert len(warnings) == 4
    assert warnings[0].startswith("Sending the activation email to user")
    assert warnings[0].endswith("3 retries left.")
    assert warnings[-1].endswith("giving up.")


def test_a_redis_outage_when_queueing_is_logged_and_the_request_still_succeeds(register, settings, caplog):
    settings.RQ_QUEUES = {
        **settings.RQ_QUEUES,
        "default": {**settings.RQ_QUEUES["default"], "PORT": _closed_port(), "SOCKET_CONNECT_TIMEOUT": 1},
    }

    with caplog.at_level(logging.ERROR, logger="authentication.services"):
        response = register("new.viewer@example.com")

    assert response.status_code == 201
    assert any("Could not queue send_activation_email" in record.getMessage() for record in caplog.records)


def test_an_email_job_for_a_deleted_user_sends_nothing(register, run_email_jobs):
    from django.contrib.auth import get_user_model

    register("new.viewer@example.com")
    get_user_model().objects.filter(email="new.viewer@example.com").delete()

    assert run_email_jobs() == 1
    assert mail.outbox == []


def test_an_activation_job_for_an_account_activated_meanwhile_sends_nothing(register, run_email_jobs):
    from django.contrib.auth import get_user_model

    register("new.viewer@example.com")
    get_user_model().objects.filter(email="new.viewer@example.com").update(is_active=True)

    run_email_jobs()

    assert mail.outbox == []


def test_links_follow_the_configured_frontend_url_and_paths(register, run_email_jobs, settings):
    settings.FRONTEND_URL = "https://videoflix.example.org/"
    settings.EMAIL_VERIFICATION_PATH = "/activate"

    register("new.viewer@example.com")
    run_email_jobs()

    assert link_in(mail.outbox[0]).startswith("https://videoflix.example.org/activate?uid=")
