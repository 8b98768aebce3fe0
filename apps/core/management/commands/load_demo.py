"""python manage.py load_demo : demo users and groups for a developer machine (idempotent)."""

from django.contrib.auth.models import Group, Permission, User
from django.core.management.base import BaseCommand
from django.db import transaction

# Development logins only; `make run` prints them. Never load these in production.
DEMO_USERS = [
    # username, password, first, last, staff, superuser, groups
    ("admin", "admin-dev-pass", "Ada", "Admin", True, True, ["operators"]),
    ("operator", "operator-dev-pass", "Otto", "Operator", True, False, ["operators"]),
    ("alice", "alice-dev-pass", "Alice", "Example", False, False, ["employees", "hr"]),
    ("bob", "bob-dev-pass", "Bob", "Example", False, False, ["employees"]),
    ("carol", "carol-dev-pass", "Carol", "Example", False, False, ["employees", "hr-leads"]),
]

GROUP_PERMISSIONS = {
    "operators": [
        "workflows.add_workflowdefinition",
        "workflows.change_workflowdefinition",
        "workflows.view_workflowdefinition",
        "workflows.add_workflowinstance",
        "workflows.change_workflowinstance",
        "workflows.view_workflowinstance",
        "workflows.add_inboundevent",
    ],
    "employees": ["workflows.add_workflowinstance"],
    "hr": [],
    "hr-leads": [],
}


class Command(BaseCommand):
    help = "Create the demo users and groups (safe to run again; resets their passwords)."

    @transaction.atomic
    def handle(self, *args, **options):
        groups = {}
        for name, perms in GROUP_PERMISSIONS.items():
            group, _ = Group.objects.get_or_create(name=name)
            for perm in perms:
                app_label, codename = perm.split(".")
                group.permissions.add(
                    Permission.objects.get(content_type__app_label=app_label, codename=codename)
                )
            groups[name] = group
        self.stdout.write("Demo logins (development only):")
        for username, password, first, last, staff, superuser, group_names in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username)
            user.first_name, user.last_name = first, last
            user.email = f"{username}@example.com"
            user.is_staff, user.is_superuser = staff, superuser
            user.set_password(password)
            user.save()
            user.groups.set([groups[g] for g in group_names])
            role = "superuser" if superuser else "staff" if staff else "user"
            self.stdout.write(
                f"  {username:<9} {password:<18} {role:<9} groups: {', '.join(group_names)}"
            )
