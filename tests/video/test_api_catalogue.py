"""GET /api/video/ and /api/video/<id>/: contract shape, filters, caching and query counts."""

import time
from datetime import datetime, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from tests.factories import CategoryFactory, VideoFactory
from tests.support import private_redis
from tests.video.fixtures_streaming import cookie_client, write_thumbnail
from video.catalogue.cache import catalogue_invalidate
from video.models import Category, Video
from video.pipeline import services, transcode

CONTRACT_FIELDS = {"id", "created_at", "title", "description", "thumbnail_url", "category"}


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()]


def make_video(**kwargs) -> Video:
    return VideoFactory(**kwargs)


def age(video: Video, days: float) -> Video:
    Video.objects.filter(pk=video.pk).update(created_at=timezone.now() - timedelta(days=days))
    return video


# --- Authentication ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/video/", "/api/video/1/", "/api/video/continue-watching/"])
def test_catalogue_without_credentials_answers_json_401(api_client, path):
    make_video()
    response = api_client.get(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert set(response.json()) == {"detail", "errors"}


@pytest.mark.django_db
def test_list_accepts_the_spa_cookie(user):
    make_video()
    response = cookie_client(user).get("/api/video/")
    assert response.status_code == 200
    assert len(response.json()) == 1


# --- Shape ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_is_a_plain_array_of_ready_videos_newest_first(bearer_client):
    oldest = age(make_video(title="Oldest"), 3)
    newest = make_video(title="Newest")
    middle = age(make_video(title="Middle"), 1)
    for status in (Video.Status.PENDING, Video.Status.PROCESSING, Video.Status.FAILED):
        make_video(status=status)
    response = bearer_client.get("/api/video/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert isinstance(response.json(), list)
    assert ids(response) == [newest.pk, middle.pk, oldest.pk]


@pytest.mark.django_db
def test_list_items_carry_the_contract_fields_and_the_extras(bearer_client):
    category = CategoryFactory(name="Drama")
    video = make_video(
        title="Big Buck",
        description="A rabbit.",
        category=category,
        duration=12.5,
        rungs=["360p", "480p"],
    )
    [item] = bearer_client.get("/api/video/").json()
    assert set(item) >= CONTRACT_FIELDS
    assert item["id"] == video.pk
    assert item["title"] == "Big Buck"
    assert item["description"] == "A rabbit."
    assert item["category"] == "Drama"
    created = datetime.fromisoformat(item["created_at"].replace("Z", "+00:00"))
    assert created.tzinfo is not None
    assert abs((created - video.created_at).total_seconds()) < 1
    assert item["duration"] == 12.5
    assert item["rungs"] == ["360p", "480p"]
    assert item["master_playlist_url"] == f"http://testserver/api/video/{video.pk}/master.m3u8"


@pytest.mark.django_db
def test_thumbnail_url_is_absolute_when_present_and_null_otherwise(bearer_client):
    with_thumbnail = make_video(thumbnail=write_thumbnail("thumbnails/cover.jpg"))
    without = age(make_video(), 1)
    by_id = {item["id"]: item for item in bearer_client.get("/api/video/").json()}
    assert by_id[with_thumbnail.pk]["thumbnail_url"] == "http://testserver/media/thumbnails/cover.jpg"
    assert by_id[without.pk]["thumbnail_url"] is None


@pytest.mark.django_db
def test_thumbnail_url_follows_the_host_the_client_used(bearer_client, settings):
    settings.ALLOWED_HOSTS = ["testserver", "videos.example.com"]
    make_video(thumbnail=write_thumbnail("thumbnails/cover.jpg"))
    local = bearer_client.get("/api/video/").json()[0]["thumbnail_url"]
    public = bearer_client.get("/api/video/", HTTP_HOST="videos.example.com", secure=True).json()[0]
    assert local == "http://testserver/media/thumbnails/cover.jpg"
    assert public["thumbnail_url"] == "https://videos.example.com/media/thumbnails/cover.jpg"


@pytest.mark.django_db
def test_empty_catalogue_is_an_empty_array(bearer_client):
    response = bearer_client.get("/api/video/")
    assert response.status_code == 200
    assert response.json() == []


# --- Filters and pagination -------------------------------------------------------------------


@pytest.mark.django_db
def test_category_filter_matches_the_name_case_insensitively_or_the_id(bearer_client):
    drama = CategoryFactory(name="Drama")
    comedy = CategoryFactory(name="Comedy")
    first = make_video(category=drama)
    make_video(category=comedy)
    assert ids(bearer_client.get("/api/video/?category=drama")) == [first.pk]
    assert ids(bearer_client.get("/api/video/?category=DRAMA")) == [first.pk]
    assert ids(bearer_client.get(f"/api/video/?category={drama.pk}")) == [first.pk]
    assert ids(bearer_client.get("/api/video/?category=Western")) == []


@pytest.mark.django_db
def test_search_looks_in_title_and_description(bearer_client):
    by_title = make_video(title="The Ocean Deep", description="Fish.")
    by_description = age(make_video(title="Blue", description="A film about the ocean."), 1)
    make_video(title="Desert", description="Sand.")
    assert set(ids(bearer_client.get("/api/video/?search=OCEAN"))) == {by_title.pk, by_description.pk}
    assert ids(bearer_client.get("/api/video/?search=ocean deep")) == [by_title.pk]
    assert ids(bearer_client.get("/api/video/?search=zebra")) == []


@pytest.mark.django_db
def test_limit_and_offset_answer_a_page(bearer_client):
    videos = [age(make_video(), days) for days in range(5)]  # videos[0] is the newest
    page = bearer_client.get("/api/video/?limit=2&offset=2").json()
    assert page["count"] == 5
    assert [item["id"] for item in page["results"]] == [videos[2].pk, videos[3].pk]
    assert page["next"] == "http://testserver/api/video/?limit=2&offset=4"
    assert page["previous"] == "http://testserver/api/video/?limit=2"  # DRF drops offset=0
    last = bearer_client.get(page["next"].removeprefix("http://testserver")).json()
    assert [item["id"] for item in last["results"]] == [videos[4].pk]
    assert last["next"] is None


@pytest.mark.django_db
def test_pagination_combines_with_filters(bearer_client):
    drama = CategoryFactory(name="Drama")
    [age(make_video(category=drama), days) for days in range(3)]
    make_video()
    page = bearer_client.get("/api/video/?category=drama&limit=1").json()
    assert page["count"] == 3
    assert page["next"] == "http://testserver/api/video/?category=drama&limit=1&offset=1"


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "limit=101", "offset=-1", "search=" + "x" * 201])
def test_invalid_parameters_answer_json_400_with_field_errors(bearer_client, query):
    response = bearer_client.get(f"/api/video/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert set(body["errors"]) <= {"limit", "offset", "search"} and body["errors"]


# --- Query count ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 25])
def test_list_query_count_is_constant(bearer_client, django_assert_num_queries, count):
    for index in range(count):
        make_video(category=CategoryFactory(name=f"Genre {index}"), thumbnail=f"thumbnails/{index}.jpg")
    cache.clear()
    # One query authenticates the user, one loads the videos with their categories.
    with django_assert_num_queries(2):
        response = bearer_client.get("/api/video/")
    assert len(response.json()) == count
    # Served from the cache: only the user is loaded.
    with django_assert_num_queries(1):
        assert len(bearer_client.get("/api/video/").json()) == count


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 25])
def test_page_and_continue_watching_query_counts_are_constant(
    bearer_client, user, django_assert_num_queries, count
):
    from video.models import WatchProgress

    for index in range(count):
        video = make_video(category=CategoryFactory(name=f"Genre {index}"), duration=100)
        WatchProgress.objects.create(user=user, video=video, position_seconds=10)
    cache.clear()
    with django_assert_num_queries(3):  # user, count, page
        assert len(bearer_client.get("/api/video/?limit=100").json()["results"]) == count
    with django_assert_num_queries(2):  # user, progress joined with videos and categories
        assert len(bearer_client.get("/api/video/continue-watching/").json()) == count


# --- Cache and invalidation -------------------------------------------------------------------


@pytest.mark.django_db
def test_list_is_answered_from_the_cache_until_the_catalogue_changes(bearer_client):
    video = make_video(title="Before")
    assert bearer_client.get("/api/video/").json()[0]["title"] == "Before"
    # A change the signals cannot see (QuerySet.update) stays invisible: the answer is cached.
    Video.objects.filter(pk=video.pk).update(title="Sneaky")
    assert bearer_client.get("/api/video/").json()[0]["title"] == "Before"
    catalogue_invalidate()
    assert bearer_client.get("/api/video/").json()[0]["title"] == "Sneaky"


@pytest.mark.django_db
def test_cache_key_includes_the_query_parameters(bearer_client):
    make_video(title="Ocean")
    make_video(title="Desert")
    assert len(bearer_client.get("/api/video/").json()) == 2
    assert [item["title"] for item in bearer_client.get("/api/video/?search=ocean").json()] == ["Ocean"]
    assert bearer_client.get("/api/video/?limit=1").json()["count"] == 2


# The services invalidate the catalogue once each, after their transaction commits.


@pytest.mark.django_db
def test_saving_a_video_invalidates_the_list(bearer_client, django_capture_on_commit_callbacks):
    video = make_video(title="Before")
    bearer_client.get("/api/video/")
    video.title = "After"
    with django_capture_on_commit_callbacks(execute=True):
        services.video_save(video=video)
    assert bearer_client.get("/api/video/").json()[0]["title"] == "After"


@pytest.mark.django_db
def test_a_save_invalidates_once_and_only_after_the_commit(bearer_client, django_capture_on_commit_callbacks):
    video = make_video(title="Before")
    bearer_client.get("/api/video/")
    version = cache.get("video:catalogue:version")
    video.title = "After"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.video_save(video=video)
    assert cache.get("video:catalogue:version") == version  # nothing before the commit
    for callback in callbacks:
        callback()
    assert cache.get("video:catalogue:version") == version + 1


@pytest.mark.django_db
def test_deleting_a_video_invalidates_the_list(bearer_client, django_capture_on_commit_callbacks):
    video = make_video()
    assert len(bearer_client.get("/api/video/").json()) == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.video_delete(video=video)
    assert bearer_client.get("/api/video/").json() == []


@pytest.mark.django_db
def test_renaming_a_category_invalidates_the_list(bearer_client, django_capture_on_commit_callbacks):
    category = CategoryFactory(name="Drama")
    make_video(category=category)
    assert bearer_client.get("/api/video/?category=drama").json()[0]["category"] == "Drama"
    category.name = "Thriller"
    with django_capture_on_commit_callbacks(execute=True):
        services.category_save(category=category)
    assert bearer_client.get("/api/video/").json()[0]["category"] == "Thriller"
    assert bearer_client.get("/api/video/?category=drama").json() == []


@pytest.mark.django_db
def test_deleting_a_category_invalidates_the_list(bearer_client, django_capture_on_commit_callbacks):
    make_video()
    empty = CategoryFactory(name="Empty")
    bearer_client.get("/api/video/?category=empty")
    version_before = cache.get("video:catalogue:version")
    with django_capture_on_commit_callbacks(execute=True):
        services.category_delete(category=empty)
    assert Category.objects.filter(name="Empty").count() == 0
    assert cache.get("video:catalogue:version") > version_before


@pytest.mark.django_db
def test_marking_a_video_failed_takes_it_out_of_the_list(bearer_client, django_capture_on_commit_callbacks):
    video = make_video()
    assert ids(bearer_client.get("/api/video/")) == [video.pk]
    with django_capture_on_commit_callbacks(execute=True):
        services.video_mark_failed(video_id=video.pk, reason="Staff said so.")
    assert bearer_client.get("/api/video/").json() == []


@pytest.mark.django_db
def test_queueing_a_ready_video_again_keeps_it_listed_as_not_ready(
    bearer_client, django_capture_on_commit_callbacks
):
    video = make_video()
    assert [item["ready"] for item in bearer_client.get("/api/video/").json()] == [True]
    with django_capture_on_commit_callbacks(execute=True):
        services.video_enqueue_transcode(video=video)
    listed = bearer_client.get("/api/video/").json()
    assert [(item["id"], item["ready"]) for item in listed] == [(video.pk, False)]


@pytest.mark.django_db
def test_video_becoming_ready_by_update_and_invalidate_appears(bearer_client):
    video = make_video(status=Video.Status.PROCESSING)
    assert bearer_client.get("/api/video/").json() == []
    # What the pipeline does: a queryset update, then an explicit invalidation.
    Video.objects.filter(pk=video.pk).update(playable=True)
    catalogue_invalidate()
    assert ids(bearer_client.get("/api/video/")) == [video.pk]


@pytest.mark.django_db
def test_transcode_progress_writes_keep_the_cache(bearer_client):
    video = make_video(status=Video.Status.PROCESSING, job_id="current")
    bearer_client.get("/api/video/")
    version = cache.get("video:catalogue:version")
    transcode._ProgressWriter(video.pk, "current", None)(40)
    assert Video.objects.get(pk=video.pk).progress == 40
    assert cache.get("video:catalogue:version") == version


@pytest.mark.django_db
def test_a_lost_version_key_starts_a_new_version_rather_than_reviving_old_answers(bearer_client):
    video = make_video(title="Before")
    bearer_client.get("/api/video/")
    cache.delete("video:catalogue:version")  # eviction
    Video.objects.filter(pk=video.pk).update(title="After")
    time.sleep(0.002)
    assert bearer_client.get("/api/video/").json()[0]["title"] == "After"


@pytest.fixture
def own_redis(tmp_path):
    """A throw-away redis-server on a spare loopback port (stopped by the test or at teardown)."""
    with private_redis(tmp_path) as server:
        yield server


@pytest.mark.faults
@pytest.mark.django_db
def test_redis_outage_falls_back_to_the_database(bearer_client, settings, own_redis):
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": f"redis://127.0.0.1:{own_redis.port}/0",
        }
    }
    video = make_video(title="Before")
    assert bearer_client.get("/api/video/").json()[0]["title"] == "Before"
    assert cache.get("video:catalogue:version") is not None  # the answer went to this Redis
    own_redis.stop()
    video.title = "During the outage"
    video.save()
    response = bearer_client.get("/api/video/")
    assert response.status_code == 200
    assert response.json()[0]["title"] == "During the outage"
    assert ids(bearer_client.get("/api/video/?search=outage")) == [video.pk]


# --- Detail -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_detail_answers_rungs_duration_and_playlist_urls(bearer_client):
    video = make_video(title="Detail", duration=61.25, rungs=["360p", "720p"])
    response = bearer_client.get(f"/api/video/{video.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= CONTRACT_FIELDS
    assert body["duration"] == 61.25
    assert body["rungs"] == ["360p", "720p"]
    assert body["master_playlist_url"] == f"http://testserver/api/video/{video.pk}/master.m3u8"
    assert body["playlists"] == {
        "360p": f"http://testserver/api/video/{video.pk}/360p/index.m3u8",
        "720p": f"http://testserver/api/video/{video.pk}/720p/index.m3u8",
    }


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Video.Status.PENDING, Video.Status.PROCESSING, Video.Status.FAILED])
def test_detail_of_a_video_that_is_not_ready_answers_json_404(bearer_client, status):
    video = make_video(status=status)
    response = bearer_client.get(f"/api/video/{video.pk}/")
    assert response.status_code == 404
    assert set(response.json()) == {"detail", "errors"}


@pytest.mark.django_db
def test_detail_of_an_unknown_video_answers_json_404(bearer_client):
    assert bearer_client.get("/api/video/999999/").status_code == 404
    assert bearer_client.get(f"/api/video/{2**64}/").status_code == 404


@pytest.mark.django_db
def test_list_rejects_other_methods_with_json_405(bearer_client):
    response = bearer_client.post("/api/video/", {}, format="json")
    assert response.status_code == 405
    assert set(response.json()) == {"detail", "errors"}


@pytest.mark.django_db
def test_schema_describes_the_video_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    segment = paths["/api/video/{video_id}/{rung}/{segment}"]["get"]["responses"]
    assert "video/MP2T" in segment["200"]["content"]
    assert {"401", "404"} <= set(segment)
    playlist = paths["/api/video/{video_id}/{rung}/index.m3u8"]["get"]["responses"]
    assert "application/vnd.apple.mpegurl" in playlist["200"]["content"]
    assert "put" in paths["/api/video/{video_id}/progress/"]
    assert {"200", "401"} <= set(paths["/api/video/"]["get"]["responses"])
