from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "server.insights"
    label = "insights"
    verbose_name = "Store analytics records"

    def ready(self) -> None:
        from server.insights.staff import on_person_bound
        from server.people.signals import person_bound

        # A person bound once their visit has ended is re-marked as staff here (the recorder only sees live ones).
        person_bound.connect(on_person_bound, dispatch_uid="insights-staff-after-visit")
