"""Oversized and deeply nested JSON bodies answer 413 / 400 in the API's error shape, never 500."""

import pytest
from django.urls import reverse

from tests.factories import VideoFactory

pytestmark = pytest.mark.django_db

SIX_MB = 6 * 1024 * 1024
NESTED = "[" * 200_000


def _post_raw(client, path, body: str, method="post"):
    return getattr(client, method)(path, data=body, content_type="application/json")


def _assert_error(response, status):
    assert response.status_code == status, response.content[:200]
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert body["detail"]


@pytest.mark.parametrize("path", ["/api/login/", "/api/register/", "/api/token/", "/api/password_reset/"])
def test_a_six_megabyte_body_answers_413_in_the_error_shape(api_client, path):
    body = '{"email": "a@example.com", "password": "' + "x" * SIX_MB + '"}'

    response = _post_raw(api_client, path, body)

    _assert_error(response, 413)
    assert "too large" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/api/login/", "/api/register/", "/api/token/", "/api/password_reset/"])
def test_json_nested_200k_deep_answers_400_in_the_error_shape(api_client, path):
    _assert_error(_post_raw(api_client, path, NESTED), 400)


def test_watch_progress_refuses_oversized_and_deeply_nested_bodies(bearer_client):
    path = reverse("video:video-progress", kwargs={"video_id": VideoFactory().pk})

    _assert_error(_post_raw(bearer_client, path, '{"a": "' + "x" * SIX_MB + '"}', method="put"), 413)
    _assert_error(_post_raw(bearer_client, path, NESTED, method="put"), 400)


def test_a_body_just_under_the_limit_is_still_parsed(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = '{"email": "nobody@example.com", "password": "' + "x" * 900 + '"}'

    response = _post_raw(api_client, "/api/login/", body)

    _assert_error(response, 400)
    assert "password" in response.json()["errors"]
