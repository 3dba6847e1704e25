"""Answers in a question's own terms ("self employed", "we rent"), editable per question."""
from django.db import migrations, models

from bots.seed import fill_answer_phrases


def fill(apps, schema_editor):
    fill_answer_phrases(apps.get_model("bots", "Bot"), apps.get_model("bots", "Question"))


class Migration(migrations.Migration):
    dependencies = [("bots", "0002_seed_bots")]
    operations = [
        migrations.AddField(
            model_name="question",
            name="yes_phrases",
            field=models.TextField(
                blank=True,
                help_text="Answers in this question's own terms that mean yes, one per line or "
                "comma-separated (e.g. salaried, I work for a company). A negation flips them "
                "(\"I'm not salaried\"); the longest match wins (\"self employed\" over \"employed\").",
            ),
        ),
        migrations.AddField(
            model_name="question",
            name="no_phrases",
            field=models.TextField(
                blank=True, help_text="Answers that mean no, e.g. self employed, business, student, we rent."
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
