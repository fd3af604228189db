"""Signal receivers of the video app (connected in VideoConfig.ready).

Any saved or deleted Video or Category makes the cached catalogue stale. The version is bumped
at once and again after the transaction commits: a request that read the old rows between
the two bumps may have cached them, and the second bump makes that answer unreachable.
Changes made with ``QuerySet.update()`` send no signal; the services that make them call
``catalogue_invalidate()`` themselves.
"""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from video.cache import catalogue_invalidate
from video.models import Category, Video

# Saves limited to these fields (e.g. the pipeline's progress percent) change nothing the
# catalogue shows, so they keep the cache.
VIDEO_FIELDS_NOT_SHOWN = frozenset(
    {"progress", "error", "job_id", "attempts", "updated_at", "source_width", "source_height"}
)


def _invalidate_now_and_after_commit() -> None:
    catalogue_invalidate()
    transaction.on_commit(catalogue_invalidate)


@receiver(post_save, sender=Video, dispatch_uid="video_catalogue_video_saved")
def video_saved(sender, instance, update_fields=None, **kwargs):
    if update_fields and set(update_fields) <= VIDEO_FIELDS_NOT_SHOWN:
        return
    _invalidate_now_and_after_commit()


@receiver(post_delete, sender=Video, dispatch_uid="video_catalogue_video_deleted")
@receiver(post_save, sender=Category, dispatch_uid="video_catalogue_category_saved")
@receiver(post_delete, sender=Category, dispatch_uid="video_catalogue_category_deleted")
def catalogue_row_changed(sender, instance, **kwargs):
    _invalidate_now_and_after_commit()
