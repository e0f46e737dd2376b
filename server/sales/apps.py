from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "server.sales"
    label = "sales"
    verbose_name = "Point-of-sale transactions and conversion"
