"""Admin, RQ dashboard, OpenAPI schema and docs, CORS."""

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_rq_dashboard_sends_anonymous_visitors_to_the_admin_login(client):
    response = client.get("/django-rq/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_rq_dashboard_refuses_logged_in_non_staff(client, user):
    client.force_login(user)
    response = client.get("/django-rq/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_rq_dashboard_is_shown_to_staff(client, staff_user):
    client.force_login(staff_user)
    response = client.get("/django-rq/")
    assert response.status_code == 200
    assert b"transcode" in response.content
    assert b"default" in response.content


@pytest.mark.django_db
def test_admin_login_page_is_served(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b"csrfmiddlewaretoken" in response.content


@pytest.mark.django_db
def test_openapi_schema_is_valid_and_served_as_json(client, tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/health/" in schema["paths"]


@pytest.mark.django_db
def test_swagger_ui_is_served_without_a_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html


@pytest.mark.django_db
def test_cors_allows_the_spa_origin_with_credentials(client):
    response = client.options(
        "/api/health/",
        HTTP_ORIGIN="http://127.0.0.1:5500",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,x-csrftoken",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://127.0.0.1:5500"
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert "x-csrftoken" in response["Access-Control-Allow-Headers"].lower()


@pytest.mark.django_db
def test_cors_does_not_allow_an_unknown_origin(client):
    response = client.get("/api/health/", HTTP_ORIGIN="http://evil.example")
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.django_db
def test_schema_says_bearer_or_cookie_authenticates_protected_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["jwtBearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["jwtCookie"] == {"type": "apiKey", "in": "cookie", "name": "access_token"}
    security = schema["paths"]["/api/video/"]["get"]["security"]
    assert {"jwtBearer": []} in security
    assert {"jwtCookie": []} in security
    assert all(len(requirement) == 1 for requirement in security)
