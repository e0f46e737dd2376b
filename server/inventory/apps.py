from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "server.inventory"
    label = "inventory"
    verbose_name = "Store inventory"

    def ready(self) -> None:
        from server.inventory import signals  # noqa: F401 - registers the media clean-up and revision receivers
