"""The project's URLs plus one protected endpoint, to test the authentication class end to end."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from core.urls import urlpatterns as project_urlpatterns


class WhoAmIView(APIView):
    """Uses the project's default authentication and permission classes."""

    def get(self, request):
        return Response({"id": request.user.pk})

    def post(self, request):
        return Response({"id": request.user.pk})


urlpatterns = [path("api/test-whoami/", WhoAmIView.as_view()), *project_urlpatterns]
