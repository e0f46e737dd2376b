from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "server.insights"
    label = "insights"
    verbose_name = "Store analytics records"

    def ready(self) -> None:
        from server.insights.staff import on_person_bound, on_person_unbound
        from server.people.signals import person_bound, person_unbound

        # A person bound (or unbound) once their visit has ended is re-marked here (the recorder only sees live
        # ones, and re-checks the bindings of those whose visit end it stores).
        person_bound.connect(on_person_bound, dispatch_uid="insights-staff-after-visit")
        person_unbound.connect(on_person_unbound, dispatch_uid="insights-visitor-after-unbind")
