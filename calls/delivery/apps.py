from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "calls.delivery"
    label = "delivery"
    verbose_name = "Lead delivery (webhooks)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from calls.delivery.queue import DeliveryQueue
        from calls.outbox.runner import register

        register(DeliveryQueue())
