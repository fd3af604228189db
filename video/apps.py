from django.apps import AppConfig


class VideoConfig(AppConfig):
    name = "video"
    verbose_name = "Videos"

    def ready(self):
        from video import signals  # noqa: F401 - connects receivers
