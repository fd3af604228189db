"""Watch progress: PUT /api/video/<id>/progress/ and GET /api/video/continue-watching/."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import UserFactory, VideoFactory
from tests.video.fixtures_streaming import bearer_client_for, cookie_client
from video.models import Video, WatchProgress


def put_progress(client, video_id: int, seconds):
    return client.put(f"/api/video/{video_id}/progress/", {"position_seconds": seconds}, format="json")


@pytest.fixture
def film(db):
    return VideoFactory(duration=600.0)


@pytest.mark.django_db
def test_progress_endpoints_require_credentials(api_client, film):
    assert put_progress(api_client, film.pk, 10).status_code == 401
    assert api_client.get(f"/api/video/{film.pk}/progress/").status_code == 401
    assert api_client.get("/api/video/continue-watching/").status_code == 401
    assert not WatchProgress.objects.exists()


@pytest.mark.django_db
def test_put_stores_the_position_and_answers_it(bearer_client, user, film):
    response = put_progress(bearer_client, film.pk, 42.5)
    assert response.status_code == 200
    body = response.json()
    assert body["video_id"] == film.pk
    assert body["position_seconds"] == 42.5
    assert body["updated_at"]
    assert WatchProgress.objects.get(user=user, video=film).position_seconds == 42.5
    assert bearer_client.get(f"/api/video/{film.pk}/progress/").json()["position_seconds"] == 42.5


@pytest.mark.django_db
def test_a_second_put_replaces_the_position(bearer_client, user, film):
    put_progress(bearer_client, film.pk, 10)
    put_progress(bearer_client, film.pk, 95)
    assert WatchProgress.objects.filter(user=user, video=film).count() == 1
    assert WatchProgress.objects.get(user=user, video=film).position_seconds == 95


@pytest.mark.django_db
def test_a_position_past_the_end_is_clamped_to_the_duration(bearer_client, film):
    assert put_progress(bearer_client, film.pk, 601.7).json()["position_seconds"] == 600.0


@pytest.mark.django_db
def test_cookie_clients_can_store_progress(user, film):
    # The test client skips CSRF checks, as the SPA's requests carry its token.
    response = put_progress(cookie_client(user), film.pk, 30)
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("value", [-1, "abc", None, "", [], 10**9])
def test_invalid_positions_answer_json_400(bearer_client, film, value):
    response = put_progress(bearer_client, film.pk, value)
    assert response.status_code == 400
    assert "position_seconds" in response.json()["errors"]
    assert not WatchProgress.objects.exists()


@pytest.mark.django_db
def test_missing_body_answers_json_400(bearer_client, film):
    response = bearer_client.put(f"/api/video/{film.pk}/progress/", {}, format="json")
    assert response.status_code == 400
    assert "position_seconds" in response.json()["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Video.Status.PROCESSING, Video.Status.FAILED])
def test_progress_on_a_video_that_is_not_ready_answers_404(bearer_client, status):
    video = VideoFactory(status=status)
    assert put_progress(bearer_client, video.pk, 5).status_code == 404
    assert put_progress(bearer_client, 999_999, 5).status_code == 404
    assert not WatchProgress.objects.exists()


@pytest.mark.django_db
def test_get_progress_of_an_unwatched_video_answers_404(bearer_client, film):
    assert bearer_client.get(f"/api/video/{film.pk}/progress/").status_code == 404


@pytest.mark.django_db
def test_continue_watching_lists_unfinished_videos_most_recent_first(bearer_client, user):
    first, second, finished, unstarted = (VideoFactory(duration=100.0) for _ in range(4))
    unknown_length = VideoFactory(duration=None)
    put_progress(bearer_client, first.pk, 20)
    put_progress(bearer_client, second.pk, 50)
    put_progress(bearer_client, finished.pk, 99)
    put_progress(bearer_client, unstarted.pk, 0)
    put_progress(bearer_client, unknown_length.pk, 7)
    # Make the order unambiguous: first was watched most recently.
    now = timezone.now()
    for video, minutes in ((first, 0), (second, 5), (unknown_length, 10)):
        WatchProgress.objects.filter(user=user, video=video).update(
            updated_at=now - timedelta(minutes=minutes)
        )
    items = bearer_client.get("/api/video/continue-watching/").json()
    assert [item["id"] for item in items] == [first.pk, second.pk, unknown_length.pk]
    assert [item["position_seconds"] for item in items] == [20, 50, 7]
    assert {"title", "category", "thumbnail_url", "duration", "progress_updated_at"} <= set(items[0])


@pytest.mark.django_db
def test_continue_watching_hides_videos_that_stopped_being_ready(bearer_client, film):
    put_progress(bearer_client, film.pk, 30)
    Video.objects.filter(pk=film.pk).update(status=Video.Status.FAILED, playable=False)
    assert bearer_client.get("/api/video/continue-watching/").json() == []


@pytest.mark.django_db
def test_progress_is_private_to_each_user(user, film):
    alice = bearer_client_for(user)
    bob_user = UserFactory()
    bob = bearer_client_for(bob_user)
    put_progress(alice, film.pk, 120)
    assert bob.get("/api/video/continue-watching/").json() == []
    assert bob.get(f"/api/video/{film.pk}/progress/").status_code == 404
    put_progress(bob, film.pk, 5)
    # Bob's position is his own; Alice's is untouched.
    assert alice.get(f"/api/video/{film.pk}/progress/").json()["position_seconds"] == 120
    assert bob.get(f"/api/video/{film.pk}/progress/").json()["position_seconds"] == 5
    assert [item["position_seconds"] for item in alice.get("/api/video/continue-watching/").json()] == [120]
    assert [item["position_seconds"] for item in bob.get("/api/video/continue-watching/").json()] == [5]
    assert WatchProgress.objects.count() == 2


@pytest.mark.django_db
def test_progress_changes_do_not_invalidate_the_catalogue(bearer_client, film):
    from django.core.cache import cache

    bearer_client.get("/api/video/")
    version = cache.get("video:catalogue:version")
    put_progress(bearer_client, film.pk, 15)
    assert cache.get("video:catalogue:version") == version
