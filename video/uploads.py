"""An upload handler that stops storing a file once it passes VIDEO_MAX_UPLOAD_MB.

It runs before Django's own handlers: chunks of an oversized file are dropped instead of being
written to the temporary file (which is closed and deleted), the rest of the request is read as
usual, and the admin form then refuses the upload with a sentence (`VideoAdminForm.clean`).
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

OVERSIZED_ATTRIBUTE = "oversized_uploads"


class SizeLimitUploadHandler(FileUploadHandler):
    def receive_data_chunk(self, raw_data, start):
        limit = settings.VIDEO_MAX_UPLOAD_MB * 1024 * 1024
        if start + len(raw_data) > limit:
            oversized = getattr(self.request, OVERSIZED_ATTRIBUTE, None)
            if oversized is None:
                oversized = {}
                setattr(self.request, OVERSIZED_ATTRIBUTE, oversized)
            oversized[self.field_name] = self.file_name
            raise SkipFile
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler stores the file
