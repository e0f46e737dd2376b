from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "server.reports"
    label = "reports"
    verbose_name = "Exports, scheduled reports and the chain overview"

    def ready(self) -> None:
        from server.reports import signals  # noqa: F401 - a schedule whose sites are deleted stops
