"""The role groups of spec §3.3. Their permissions come from crm.roles.ROLE_PERMISSIONS, synced
after every migrate (crm.signals.sync_roles_after_migrate) and by `manage.py sync_roles`."""

from django.db import migrations

ROLES = ("manager", "marketing", "customer_service", "finance", "operations")


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.using(schema_editor.connection.alias).get_or_create(name=name)


def delete_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("crm", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, delete_roles)]
