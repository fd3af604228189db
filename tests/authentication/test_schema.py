"""The OpenAPI schema describes the account endpoints, including their error answers."""

import pytest

pytestmark = pytest.mark.django_db

EXPECTED = {
    ("/api/register/", "post"): {"201", "400", "429"},
    ("/api/activate/{uidb64}/{token}/", "get"): {"200", "400"},
    ("/api/login/", "post"): {"200", "400", "429"},
    ("/api/logout/", "post"): {"200", "400", "401", "403"},
    ("/api/token/", "post"): {"200", "400", "429"},
    ("/api/token/refresh/", "post"): {"200", "400", "401"},
    ("/api/password_reset/", "post"): {"200", "400", "429"},
    ("/api/password_confirm/{uidb64}/{token}/", "post"): {"200", "400"},
}


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_lists_every_account_endpoint_with_its_error_statuses(schema):
    for (path, method), statuses in EXPECTED.items():
        operation = schema["paths"][path][method]
        assert set(operation["responses"]) == statuses, path


def test_schema_error_bodies_use_the_api_error_shape(schema):
    login_400 = schema["paths"]["/api/login/"]["post"]["responses"]["400"]
    reference = login_400["content"]["application/json"]["schema"]["$ref"]
    error = schema["components"]["schemas"][reference.rsplit("/", 1)[1]]

    assert set(error["properties"]) == {"detail", "errors"}
    activation_400 = schema["paths"]["/api/activate/{uidb64}/{token}/"]["get"]["responses"]["400"]
    reference = activation_400["content"]["application/json"]["schema"]["$ref"]
    assert set(schema["components"]["schemas"][reference.rsplit("/", 1)[1]]["properties"]) == {
        "message",
        "detail",
        "errors",
    }


def test_schema_marks_account_endpoints_as_public(schema):
    for path, method in EXPECTED:
        assert schema["paths"][path][method].get("security") in (None, [{}]), path
