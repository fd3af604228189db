import pytest


@pytest.mark.django_db
def test_unknown_api_path_answers_json_404(client):
    response = client.get("/api/does-not-exist/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "Not found.", "errors": {}}


@pytest.mark.django_db
def test_wrong_method_answers_json_405_with_allow_header(client):
    response = client.delete("/api/health/")
    assert response.status_code == 405
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert "DELETE" in body["detail"]
    assert "GET" in response["Allow"]


@pytest.mark.django_db
def test_unhandled_exception_under_api_answers_json_500(client, settings, monkeypatch):
    settings.DEBUG = False
    import core.health

    def explode(request):
        raise RuntimeError("boom")

    monkeypatch.setattr(core.health, "run_checks", lambda: explode(None))
    client.raise_request_exception = False
    response = client.get("/api/health/")
    assert response.status_code == 500
    assert response.json() == {
        "detail": "Something went wrong on our side. Please try again later.",
        "errors": {},
    }


def test_non_api_404_stays_html(client, db):
    response = client.get("/not-api/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")
