from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.health import health
from video.streaming import views as streaming_views

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
    path("media/thumbnails/<path:name>", streaming_views.thumbnail, name="thumbnail"),
]
