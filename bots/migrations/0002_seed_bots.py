"""Ship the two bots of the product brief. They stay editable in the admin."""
from django.db import migrations

from bots.seed import BOTS, seed_brief_bots


def seed(apps, schema_editor):
    seed_brief_bots(apps.get_model("bots", "Bot"), apps.get_model("bots", "Question"))


def unseed(apps, schema_editor):
    apps.get_model("bots", "Bot").objects.filter(slug__in=[b["slug"] for b in BOTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("bots", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
