from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "server.ingest"
    label = "ingest"
    verbose_name = "Track ingest"
