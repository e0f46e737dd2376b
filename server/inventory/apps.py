from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "server.inventory"
    label = "inventory"
    verbose_name = "Store inventory"
