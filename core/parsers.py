"""The API's JSON parser: DRF's, with nesting too deep for Python's decoder answered as a 400.

Bodies larger than DATA_UPLOAD_MAX_MEMORY_SIZE are refused by Django before parsing; the
exception handler (core.exceptions) turns that refusal into a 413.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

TOO_DEEP = "The JSON body is nested too deeply."


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(TOO_DEEP) from exc
