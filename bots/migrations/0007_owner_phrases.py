"""The shipped home-ownership question: a home that "belongs to my <someone>" is not the
caller's (issue 27: "It belongs to my in-laws." was heard "... my own laws." and taken
for a yes), unless staff changed the phrases."""
from django.db import migrations

from bots.seed import upgrade_shipped_questions

# What 0005 shipped for the question this release extends.
PREVIOUS = {
    ("home-renovation", "owns_home", "no_phrases"): "\n".join((
        "rent, renting, rented, renter, tenant, lease, leasing, leased, landlord, landlady, landlord owns, "
        "landlord owns it, parents own, my parents own, parents own it, my parents, live with my parents, "
        "sublet, subletting, housing association, council house"
    ).split(", ")),
}


def upgrade(apps, schema_editor):
    upgrade_shipped_questions(apps.get_model("bots", "Bot"), apps.get_model("bots", "Question"), PREVIOUS)


class Migration(migrations.Migration):

    dependencies = [
        ("bots", "0006_recording_consent"),
    ]

    operations = [
        migrations.RunPython(upgrade, migrations.RunPython.noop),
    ]
