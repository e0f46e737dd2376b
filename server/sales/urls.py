from django.urls import re_path

from server.sales import apis

# With or without the trailing slash, as the router's paths.
urlpatterns = [
    re_path(
        r"^sites/(?P<site_id>[0-9]+)/sales/transactions/?$",
        apis.TransactionsApi.as_view(),
        name="sales-transactions",
    ),
    re_path(
        r"^sites/(?P<site_id>[0-9]+)/sales/transactions/csv/?$",
        apis.TransactionsCsvApi.as_view(),
        name="sales-transactions-csv",
    ),
    re_path(
        r"^sites/(?P<site_id>[0-9]+)/analytics/conversion/?$",
        apis.ConversionApi.as_view(),
        name="analytics-conversion",
    ),
]
