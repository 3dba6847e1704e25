"""The "Sales agents" group: what the lead dashboard checks (view calls, change a
lead's status and note), plus reading the bots a lead came from. Give an agent a
staff account in this group instead of superuser rights."""
from django.db import migrations

GROUP = "Sales agents"
PERMISSIONS = [("calls", "call", "view_call"), ("calls", "call", "change_call"), ("bots", "bot", "view_bot")]


def add_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; make sure they exist now.
    for label in ("calls", "bots"):
        config = apps.get_app_config(label)
        config.models_module = True  # a migration's app stub lacks it; create_permissions checks it
        create_permissions(config, verbosity=0, apps=apps)
        config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, model, codename in PERMISSIONS:
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, content_type__model=model, codename=codename))


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0003_worker_heartbeat"),
        ("bots", "0004_silence_lines"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(add_group, remove_group)]
