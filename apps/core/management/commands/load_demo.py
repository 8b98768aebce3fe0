"""python manage.py load_demo : demo users, groups and a definition employees may start."""

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

# What the README promises operators in the admin and the API: definitions (and who may start
# them), instances with their timeline, events, secrets, their own API token, the audit trail.
# Plain users start definitions through their groups (the definition's starter groups).
GROUP_PERMISSIONS = {
    "operators": [
        "workflows.add_workflowdefinition",
        "workflows.change_workflowdefinition",
        "workflows.view_workflowdefinition",
        "workflows.view_definitionevent",
        "workflows.add_definitionaccess",
        "workflows.change_definitionaccess",
        "workflows.view_definitionaccess",
        "workflows.add_workflowinstance",
        "workflows.change_workflowinstance",
        "workflows.view_workflowinstance",
        "workflows.view_instanceevent",
        "workflows.add_inboundevent",
        "workflows.view_outboxevent",
        "workflows.change_outboxevent",  # retry failed rows (the row itself stays read-only)
        "workflows.view_inboundevent",
        "workflows.view_eventdelivery",
        "workflows.view_eventwait",
        "workflows.view_deadletter",
        "workflows.change_deadletter",  # replay, discard
        "workflows.view_eventtrigger",
        "workflows.add_eventtrigger",
        "workflows.change_eventtrigger",
        "workflows.delete_eventtrigger",
        "workflows.view_secret",
        "workflows.add_secret",
        "workflows.change_secret",
        "workflows.delete_secret",
        "authtoken.view_tokenproxy",
        "authtoken.add_tokenproxy",
        "authtoken.delete_tokenproxy",
        "core.view_platformevent",
        # user tasks: see all, reassign, cancel (delete) — the admin's task pages
        "tasks.view_usertask",
        "tasks.assign_usertask",
        "tasks.delete_usertask",
    ],
    "employees": [],
    "hr": [],
    "hr-leads": [],
}

# A definition the employees group may start, so the demo shows a group-started process.
DEMO_DEFINITION = {
    "id": "expense-claim",
    "version": "1",
    "specVersion": "0.8",
    "name": "Expense claim",
    "description": "Demo: any employee may start it; it records the claim and ends.",
    "start": "Record",
    "states": [
        {
            "name": "Record",
            "type": "inject",
            "data": {"recorded": True},
            "end": True,
        }
    ],
}
DEMO_STARTERS = {"expense-claim": ["employees"]}


def ensure_groups() -> dict[str, Group]:
    """The demo groups with exactly the permissions above (tests use the same groups)."""
    groups = {}
    for name, perms in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            wanted.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)
        groups[name] = group
    return groups


class Command(BaseCommand):
    help = "Create the demo users, groups and definition (safe to run again; resets passwords)."

    @transaction.atomic
    def handle(self, *args, **options):
        from apps.workflows.services.access import do_set_starter_groups
        from apps.workflows.services.definitions import do_save_definition

        groups = ensure_groups()
        self.stdout.write("Demo logins (development only):")
        users = {}
        for username, password, first, last, staff, superuser, group_names in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username)
            user.first_name, user.last_name = first, last
            user.email = f"{username}@example.com"
            user.is_staff, user.is_superuser = staff, superuser
            user.set_password(password)
            user.save()
            user.groups.set([groups[g] for g in group_names])
            users[username] = user
            role = "superuser" if superuser else "staff" if staff else "user"
            self.stdout.write(
                f"  {username:<9} {password:<18} {role:<9} groups: {', '.join(group_names)}"
            )
        do_save_definition(source=DEMO_DEFINITION, user=users["admin"], publish=True)
        for key, starters in DEMO_STARTERS.items():
            do_set_starter_groups(key=key, groups=starters, user=users["admin"])
            self.stdout.write(f"Definition '{key}': started by {', '.join(starters)}.")
