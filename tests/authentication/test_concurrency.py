"""One-time tokens stay one-time when two requests race, each on its own database connection."""

import threading

import pytest
from django.db import connection
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from authentication.tokens import account_activation_token
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _race(request, attempts: int = 2) -> list[int]:
    """Send `request(client)` from several threads at once; return the status codes."""
    barrier = threading.Barrier(attempts)
    statuses: list[int] = []

    def attempt():
        try:
            barrier.wait()
            statuses.append(request(APIClient()).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(statuses)


def test_two_concurrent_refreshes_with_one_token_cannot_both_succeed():
    refresh = str(RefreshToken.for_user(UserFactory()))

    statuses = _race(lambda client: client.post("/api/token/refresh/", {"refresh": refresh}, format="json"))

    assert statuses == [200, 401]


def test_two_concurrent_uses_of_one_activation_link_activate_once():
    user = UserFactory(is_active=False)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    path = f"/api/activate/{uid}/{account_activation_token.make_token(user)}/"

    statuses = _race(lambda client: client.get(path))

    assert statuses == [200, 400]
