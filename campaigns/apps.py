"""The campaigns app: registers the dialer's outbox queue and its hooks on lead delivery's
body and on the end of a call (the layers below never import campaigns)."""
from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Outbound campaigns"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from calls.delivery.events import add_body_part
        from calls.models import Call
        from calls.outbox.runner import register
        from calls.persistence.lifecycle import call_end_stored
        from campaigns import body
        from campaigns.dialer import DialQueue

        register(DialQueue())
        add_body_part(body.campaign_part)
        call_end_stored.connect(_call_ended, sender=Call, dispatch_uid="campaigns.call_ended")


def _call_ended(sender: object, call: object, provisional: bool, **kwargs: object) -> None:
    from campaigns.outcomes import call_ended

    call_ended(call)  # type: ignore[arg-type]
