"""One call per carrier call id (issue 31 B3): a retried Twilio webhook, even two
retries racing on two workers, never creates a second call.

Calls without a carrier id (web calls, a phone call before its dial returned) keep
an empty `provider_call_id`: the constraint covers only non-empty ids. Two rows with
the same id, left by the race before this constraint, are made unique first: the one
the carrier's stream joined (started first, else created first) keeps the id; the
others, never connected, lose it (they are kept, and stay `created`)."""
from django.db import migrations, models
from django.db.models import Count, F


def keep_one_call_per_carrier_id(apps, schema_editor):
    Call = apps.get_model("calls", "Call")
    duplicated = (
        Call.objects.exclude(provider_call_id="").values("provider_call_id")
        .annotate(n=Count("pk")).filter(n__gt=1).values_list("provider_call_id", flat=True)
    )
    for provider_call_id in list(duplicated):
        calls = Call.objects.filter(provider_call_id=provider_call_id).order_by(
            F("started_at").asc(nulls_last=True), "created_at", "pk"
        )
        keep = calls.first()
        calls.exclude(pk=keep.pk).update(provider_call_id="")


class Migration(migrations.Migration):

    dependencies = [
        ("calls", "0005_call_end_provisional"),
    ]

    operations = [
        migrations.RunPython(keep_one_call_per_carrier_id, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="call",
            constraint=models.UniqueConstraint(
                condition=models.Q(("provider_call_id", ""), _negated=True),
                fields=("provider_call_id",),
                name="one_call_per_carrier_call_id",
            ),
        ),
    ]
