"""Pagination of list endpoints: DRF's limit/offset pages, asked for explicitly.

Without `limit` or `offset` a list stays the plain JSON array the SPA expects.
"""

from rest_framework.pagination import LimitOffsetPagination


class OptionalLimitOffsetPagination(LimitOffsetPagination):
    default_limit = 20
    max_limit = 100

    def paginate_queryset(self, queryset, request, view=None):
        if (
            self.limit_query_param not in request.query_params
            and self.offset_query_param not in request.query_params
        ):
            return None
        return super().paginate_queryset(queryset, request, view)
