"""`manage.py storage_setup`: make the bucket ready for MEDIA_STORAGE=s3 (idempotent).

Creates the bucket when missing, sets CORS for the SPA's origins (CORS_ALLOWED_ORIGINS) and for
the admin's uploads straight to the bucket (VIDEO_UPLOAD_ORIGINS), a lifecycle rule that aborts
abandoned multipart uploads (and aborts stale ones itself, for stores without lifecycle rules),
and checks the bucket refuses unsigned requests. The entrypoint runs
it when MEDIA_STORAGE=s3; in local mode it does nothing.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from video import media_store


class Command(BaseCommand):
    help = "Create and configure the media bucket (MEDIA_STORAGE=s3); safe to run again."

    def handle(self, *args, **options):
        if not media_store.enabled():
            self.stdout.write("MEDIA_STORAGE is local: no bucket to set up.")
            return
        name = media_store.bucket()
        try:
            created = media_store.bucket_create_if_missing()
            self.stdout.write(f"Bucket {name}: {'created' if created else 'exists'}.")
            media_store.bucket_cors_set(
                origins=settings.CORS_ALLOWED_ORIGINS, upload_origins=settings.VIDEO_UPLOAD_ORIGINS
            )
            self.stdout.write("CORS: GET and HEAD for " + ", ".join(settings.CORS_ALLOWED_ORIGINS) + ".")
            self.stdout.write("CORS: staff uploads from " + ", ".join(settings.VIDEO_UPLOAD_ORIGINS) + ".")
            days = media_store.abort_uploads_after_days()
            if media_store.bucket_lifecycle_set():
                self.stdout.write(f"Lifecycle: abandoned multipart uploads are aborted after {days} day(s).")
            else:
                self.stdout.write("Lifecycle rules are not supported by this store; stale uploads are swept.")
            aborted = media_store.multipart_uploads_abort_stale(older_than_seconds=days * 24 * 3600)
            self.stdout.write(f"Aborted {aborted} multipart upload(s) older than {days} day(s).")
            private = media_store.bucket_is_private()
        except media_store.StoreError as error:
            raise CommandError(f"The store at {settings.AWS_S3_ENDPOINT_URL} failed: {error}") from error
        if not private:
            raise CommandError(
                f"Bucket {name} answers requests without a signature; make it private "
                "(no public ACL or bucket policy) before storing media in it."
            )
        self.stdout.write("Private: unsigned requests are refused.")
