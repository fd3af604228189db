from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.health import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("django-rq/", include("django_rq.urls")),
    path("api/health/", health, name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/", include(("authentication.urls", "authentication"), namespace="authentication")),
    path("api/", include(("video.urls", "video"), namespace="video")),
]

# Thumbnails are public: served here with or without DEBUG (nginx serves them first when present).
urlpatterns += [
    re_path(r"^media/(?P<path>thumbnails/.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
]
