from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "server.people"
    label = "people"
    verbose_name = "People and access"
