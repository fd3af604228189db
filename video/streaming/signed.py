"""The handler for signed segment URLs when no nginx is in front (`make run`, the default stack).

A WSGI application around Django (core/wsgi.py): a GET or HEAD of a segment URL that carries a
signature (a `sig` parameter in the query) is answered here, everything else goes to Django unchanged.
Behind nginx, nginx answers signed segments itself and this code never sees one.

A valid signature is answered from the file with no token check and no database query; a
tampered, expired or mismatched one answers 403, a missing file 404, in the API's JSON error
shape. Its headers are its own short list, not Django's:

- the file's: Content-Type, Content-Length, ETag, Last-Modified, Accept-Ranges, Cache-Control
  (private, HLS_CACHE_MAX_AGE), Content-Range on a 206;
- CORS: Access-Control-Allow-Origin (the request's Origin when CORS_ALLOWED_ORIGINS lists it) with
  Access-Control-Allow-Credentials, and Vary: Origin;
- security: X-Content-Type-Options: nosniff.
Range and conditional requests are decided by video.streaming.files.plan_answer, as for Django.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from wsgiref.util import FileWrapper

from django.conf import settings
from django.urls import reverse

from core.exceptions import error_body
from video import layout
from video.streaming import files, signing

# A request is a signed one when its query has a `sig` parameter (whatever its value); nginx's site
# applies the same rule.
SIGNED = re.compile(r"(?:^|&)sig=")
FORBIDDEN = "This segment link is invalid or has expired. Reload the video to get a fresh one."
NOT_FOUND = "This segment does not exist."


class SignedSegments:
    def __init__(self, application):
        self.application = application
        example = reverse("video:segment", kwargs={"video_id": 1, "rung": "480p", "segment": "000.ts"})
        prefix = re.escape(example.removesuffix("1/480p/000.ts"))
        rung, segment = layout.RUNG_NAME.pattern, layout.SEGMENT_NAME.pattern
        self.path = re.compile(rf"{prefix}([1-9][0-9]{{0,17}})/({rung})/({segment})/?")
        self.key = signing.signing_key()
        self.origins = frozenset(settings.CORS_ALLOWED_ORIGINS)
        self.cache_control = f"private, max-age={settings.HLS_CACHE_MAX_AGE}"

    def __call__(self, environ, start_response):
        match = None
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD") and SIGNED.search(
            environ.get("QUERY_STRING", "")
        ):
            match = self.path.fullmatch(environ.get("PATH_INFO", ""))
        if match is None:
            return self.application(environ, start_response)
        request = signing.SignedRequest(int(match[1]), match[2], match[3], environ.get("QUERY_STRING", ""))
        return self.answer(request, environ, start_response)

    def answer(self, request: signing.SignedRequest, environ, start_response):
        headers = self.cors_headers(environ.get("HTTP_ORIGIN"))
        if not signing.verify(self.key, request):
            return self.error(start_response, 403, FORBIDDEN, headers)
        try:
            file = files.locate(layout.hls_root(), str(request.video_id), request.rung, request.segment)
        except files.FileNotServable:
            return self.error(start_response, 404, NOT_FOUND, headers)
        with file:
            answer = files.plan_answer(
                file,
                method=environ["REQUEST_METHOD"],
                headers=environ,
                content_type=layout.SEGMENT_CONTENT_TYPE,
                cache_control=self.cache_control,
            )
            if answer.error:
                return self.error(start_response, answer.status, answer.error, headers | answer.headers)
            start_response(_status_line(answer.status), list((headers | answer.headers).items()))
            if not answer.length:
                return [b""]
            handle = files.BoundedFile(file.take(answer.start), answer.length)
        return environ.get("wsgi.file_wrapper", FileWrapper)(handle, files.STREAM_BLOCK_SIZE)

    def cors_headers(self, origin: str | None) -> dict[str, str]:
        headers = {"Vary": "Origin", "X-Content-Type-Options": "nosniff"}
        if origin in self.origins:
            headers |= {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true"}
        return headers

    @staticmethod
    def error(start_response, status: int, sentence: str, headers: dict[str, str]):
        body = json.dumps(error_body(sentence)).encode()
        headers = headers | {"Content-Type": "application/json", "Content-Length": str(len(body))}
        start_response(_status_line(status), list(headers.items()))
        return [body]


def _status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"
