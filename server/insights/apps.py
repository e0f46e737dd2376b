from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "server.insights"
    label = "insights"
    verbose_name = "Store analytics records"
