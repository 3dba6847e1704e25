"""The campaigns app: registers the dialer's outbox queue and its hooks on lead delivery
and on the end of a call (the layers below never import campaigns)."""
from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Outbound campaigns"
    default_auto_field = "django.db.models.BigAutoField"
