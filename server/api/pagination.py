from rest_framework import pagination


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """`?limit=&offset=`; 100 by default, at most 1,000 a page."""

    default_limit = 100
    max_limit = 1000
