"""`manage.py media_to_s3`: copy a local library (MEDIA_ROOT) into the bucket, video by video.

Run it with the AWS_* settings of the bucket while the installation still serves from local
storage, switch to MEDIA_STORAGE=s3, and run it once more for what changed in between (with
MEDIA_ROOT still naming the old disk). Each video's source and thumbnail keep their names; its
HLS set goes to a version named after its transcode, so a run that stops half-way resumes where
it stopped. Every object's size is checked against the file, and a row's `hls_version` is
switched only once all of its objects are in place. Running it again copies nothing twice.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from video import layout, media_store
from video.models import Video


class Command(BaseCommand):
    help = "Copy sources, thumbnails and HLS output from MEDIA_ROOT into the bucket (resumable)."

    def handle(self, *args, **options):
        if not settings.AWS_STORAGE_BUCKET_NAME:
            raise CommandError(
                "Set AWS_STORAGE_BUCKET_NAME (and the other AWS_* settings) of the bucket first."
            )
        root = Path(settings.MEDIA_ROOT)
        videos = list(Video.objects.order_by("pk"))
        copied = 0
        try:
            for number, video in enumerate(videos, start=1):
                copied += self.move(video, root, f"[{number}/{len(videos)}] video {video.pk}")
        except media_store.StoreError as error:
            raise CommandError(f"The store failed ({error}); run the command again to resume.") from error
        self.stdout.write(f"Done: {len(videos)} video(s), {copied} file(s) copied.")

    def move(self, video: Video, root: Path, label: str) -> int:
        copied = 0
        for name in (video.source.name, video.thumbnail.name):
            if name:
                copied += self.copy(root / name, name, label)
        folder = layout.video_dir(video.pk)
        if video.status != Video.Status.READY or not (folder / layout.MASTER_PLAYLIST).is_file():
            self.stdout.write(f"{label}: {copied} file(s) copied; no published HLS output to move.")
            return copied
        version = "local-" + (video.transcoded_at.strftime("%Y%m%d%H%M%S") if video.transcoded_at else "0")
        segments, playlists = layout.output_files(folder)
        for path in [*segments, *playlists]:  # playlists after what they list
            key = layout.hls_key(video.pk, version, *path.relative_to(folder).parts)
            copied += self.copy(path, key, label)
        if video.hls_version != version:
            Video.objects.filter(pk=video.pk, hls_version=video.hls_version).update(hls_version=version)
            keep = layout.hls_version_prefix(video.pk, version)
            media_store.prefix_delete(
                layout.hls_video_prefix(video.pk), keep=lambda key: key.startswith(keep)
            )
        self.stdout.write(f"{label}: {copied} file(s) copied; HLS version {version} in place.")
        return copied

    def copy(self, path: Path, key: str, label: str) -> int:
        """Upload the file unless the bucket has it with the same size; 1 when it was copied."""
        if not path.is_file():
            raise CommandError(
                f"{label}: {path} is missing from MEDIA_ROOT; nothing of this video was switched."
            )
        size = path.stat().st_size
        if media_store.object_size(key) == size:
            return 0
        media_store.file_upload(path, key)
        if media_store.object_size(key) != size:
            raise CommandError(f"{label}: {key} does not have the size of {path} after the upload.")
        return 1
