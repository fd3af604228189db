"""The project's URLs plus GET /api/bench/ping/: authenticated (same default auth and permission
classes as the catalogue) and otherwise trivial, to measure what DRF + JWT cost on their own."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from core.urls import urlpatterns as project_urlpatterns


class Ping(APIView):
    def get(self, request):
        return Response({"ok": True})


urlpatterns = [path("api/bench/ping/", Ping.as_view(), name="bench-ping"), *project_urlpatterns]
