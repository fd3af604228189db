"""Who can reach the admin, the RQ dashboard and the API docs, as configured."""

import pytest
import requests
from rest_framework_simplejwt.tokens import AccessToken

from tests.conftest import PASSWORD
from tests.factories import UserFactory
from tests.support import admin_session, gunicorn, live_env

pytestmark = [pytest.mark.hostile, pytest.mark.django_db(transaction=True)]


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


@pytest.fixture
def users():
    return UserFactory(), UserFactory(is_staff=True)


def test_docs_can_be_restricted_to_staff(settings, tmp_path, users):
    viewer, staff = users
    with gunicorn(live_env(settings, API_DOCS_PUBLIC="False"), tmp_path) as web:
        for path in ("/api/schema/", "/api/docs/"):
            anonymous = requests.get(web.url + path, timeout=10)
            assert anonymous.status_code == 401, (path, anonymous.status_code)
            assert anonymous.headers["Content-Type"].startswith("application/json")
            assert set(anonymous.json()) == {"detail", "errors"}
            assert requests.get(web.url + path, headers=bearer(viewer), timeout=10).status_code == 403
            assert requests.get(web.url + path, headers=bearer(staff), timeout=10).status_code == 200
        # A staff member logged into the admin opens the docs in the browser.
        session = admin_session(web.url, staff.email, PASSWORD)
        assert session.get(web.url + "/api/docs/", timeout=10).status_code == 200
        assert session.get(web.url + "/api/schema/", timeout=10).status_code == 200


def test_docs_are_public_by_default_and_admin_tools_are_not(settings, tmp_path, users):
    viewer, _ = users
    with gunicorn(live_env(settings), tmp_path) as web:
        assert requests.get(web.url + "/api/schema/", timeout=10).status_code == 200
        assert requests.get(web.url + "/api/docs/", timeout=10).status_code == 200
        for path in ("/admin/", "/django-rq/"):
            response = requests.get(web.url + path, headers=bearer(viewer), timeout=10, allow_redirects=False)
            assert response.status_code == 302, path
            assert response.headers["Location"].startswith("/admin/login/"), path
