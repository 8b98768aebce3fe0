"""Every task operation and each refusal, through the services (PRODUCT.md §3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from apps.core.errors import ServiceError
from apps.tasks import services
from apps.tasks.models import TaskEvent, TaskResume, UserTask
from apps.tasks.permissions import available_actions
from apps.tasks.services.create import InstanceNotVisible
from apps.workflows.models import OutboxEvent

from .conftest import task_request

pytestmark = pytest.mark.django_db


def _kinds(task) -> list[str]:
    return list(TaskEvent.objects.filter(task=task).values_list("event_type", flat=True))


def _published(task) -> list[str]:
    return list(
        OutboxEvent.objects.filter(attributes__xflowtaskid=str(task.pk))
        .order_by("id")
        .values_list("event_type", flat=True)
    )


def _refused(status: int, code: str, fn, *args, **kwargs) -> str:
    with pytest.raises(ServiceError) as caught:
        fn(*args, **kwargs)
    assert (caught.value.status_code, caught.value.code) == (status, code), caught.value.message
    return caught.value.message


# --- creation (the engine's activity) ------------------------------------------------------


def test_a_task_is_created_with_the_evaluated_fields(people):
    now = datetime(2030, 1, 1, 12, tzinfo=UTC)
    request = task_request(
        assignee="bob",
        candidateUsers=["alice", ["carol", None], "alice", ""],
        dueDate="PT48H",
        formKey="leave-approval@3",
        priority=70,
        taskTimeout="PT72H",
    )
    task = services.do_create_task(request, strict=False, now=now)
    assert task.status == "assigned" and task.assignee == people["assignee"]
    assert task.candidate_users == ["alice", "carol"]
    assert task.candidate_groups == ["hr"]
    assert task.due_at == now + timedelta(hours=48)
    assert (task.form_key, task.form_version) == ("leave-approval", 3)
    assert task.input == {"employee": "Ann", "days": 3}
    assert task.outcome_names == ["approved", "rejected"]
    assert task.task_timeout == "PT72H"
    assert _kinds(task) == ["created", "assigned"]
    assert _published(task) == ["io.xflow.task.created", "io.xflow.task.assigned"]


def test_a_retried_activity_never_makes_two_tasks(people):
    request = task_request()
    first = services.do_create_task(request, strict=False)
    again = services.do_create_task(request, strict=False)
    assert first.pk == again.pk
    assert UserTask.objects.count() == 1
    assert _kinds(first) == ["created"]


def test_a_platform_instance_without_a_visible_row_is_retried_not_made_rowless(db):
    with pytest.raises(InstanceNotVisible):
        services.do_create_task(task_request(), strict=True)
    assert not UserTask.objects.exists()


def test_an_unknown_assignee_leaves_the_task_in_the_queue_and_says_so(people):
    task = services.do_create_task(task_request(assignee="nobody-here"), strict=False)
    assert task.status == "unassigned" and task.assignee is None
    created = TaskEvent.objects.get(task=task, event_type="created")
    assert created.details["unknown_assignee"] == "nobody-here"


@pytest.mark.parametrize(
    ("field", "value", "column", "used"),
    [
        ("priority", 150, "priority", 100),
        ("priority", -3, "priority", 0),
        ("priority", "high", "priority", 50),
        ("dueDate", "next week", "due_at", None),
        ("formKey", "a@b@c", "form_key", ""),
    ],
)
def test_values_that_cannot_be_used_are_corrected_and_said(db, field, value, column, used):
    # A task is still made (someone can work on it) and its history tells the author.
    task = services.do_create_task(task_request(**{field: value}), strict=False)
    assert getattr(task, column) == used
    created = TaskEvent.objects.get(task=task, event_type="created")
    assert field in created.details["corrected"]
    from apps.tasks.services.audit import describe

    assert f"corrected: {field}" in describe(created)


def test_due_date_may_be_a_datetime(db):
    task = services.do_create_task(task_request(dueDate="2031-05-01T10:00:00"), strict=False)
    assert task.due_at == datetime(2031, 5, 1, 10, tzinfo=UTC)


# --- claim / unclaim -----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["candidate", "member"])
def test_a_candidate_user_or_group_member_claims_an_unassigned_task(people, make_task, who):
    task = make_task()
    services.do_claim_task(task, user=people[who])
    task.refresh_from_db()
    assert task.status == "assigned" and task.assignee == people[who]
    assert task.claimed_at is not None
    assert _kinds(task) == ["created", "claimed"]
    assert _published(task)[-1] == "io.xflow.task.claimed"


def test_claim_refusals(people, make_task):
    task = make_task()
    # a task one has no part in does not exist for them
    message = _refused(404, "task_not_found", services.do_claim_task, task, user=people["other"])
    assert "not yours to see" in message
    # an operator sees it, but is no candidate
    message = _refused(
        403, "task_action_not_allowed", services.do_claim_task, task, user=people["operator"]
    )
    assert "candidate" in message
    services.do_claim_task(task, user=people["candidate"])
    message = _refused(
        409, "task_wrong_status", services.do_claim_task, task, user=people["member"]
    )
    assert "already assigned to alice" in message


def test_unclaim_puts_the_task_back_and_only_the_assignee_or_a_manager_may(people, make_task):
    task = make_task()
    services.do_claim_task(task, user=people["candidate"])
    _refused(403, "task_action_not_allowed", services.do_unclaim_task, task, user=people["member"])
    services.do_unclaim_task(task, user=people["candidate"])
    task.refresh_from_db()
    assert task.status == "unassigned" and task.assignee is None
    _refused(409, "task_wrong_status", services.do_unclaim_task, task, user=people["candidate"])
    services.do_claim_task(task, user=people["member"])
    services.do_unclaim_task(task, user=people["manager"])
    task.refresh_from_db()
    assert task.status == "unassigned"


# --- assign / delegate / resolve ----------------------------------------------------------


def test_managers_assign_and_reassign_and_others_may_not(people, make_task):
    task = make_task()
    _refused(
        403,
        "task_action_not_allowed",
        services.do_assign_task,
        task,
        user=people["candidate"],
        assignee=people["candidate"],
    )
    services.do_assign_task(task, user=people["manager"], assignee=people["other"])
    task.refresh_from_db()
    assert task.assignee == people["other"] and task.status == "assigned"
    services.do_assign_task(task, user=people["manager"], assignee=None)
    task.refresh_from_db()
    assert task.assignee is None and task.status == "unassigned"
    assert _kinds(task) == ["created", "assigned", "assigned"]


def test_delegation_keeps_the_owner_and_the_delegate_resolves_it_back(people, make_task):
    bob, carol = people["assignee"], people["member"]
    task = make_task(assignee="bob")
    services.do_delegate_task(task, user=bob, delegate=carol)
    task.refresh_from_db()
    assert (task.status, task.owner, task.assignee) == ("delegated", bob, carol)
    # the delegate works on it but does not complete it: the owner does
    services.do_save_draft(task, user=carol, data={"note": "checked"})
    message = _refused(
        409, "task_wrong_status", services.do_complete_task, task, user=carol, outcome="approved"
    )
    assert "resolve it back" in message
    _refused(403, "task_action_not_allowed", services.do_resolve_task, task, user=bob)
    services.do_resolve_task(task, user=carol)
    task.refresh_from_db()
    assert (task.status, task.owner, task.assignee) == ("assigned", None, bob)
    assert task.draft == {"note": "checked"}
    services.do_complete_task(task, user=bob, outcome="approved", data={"ok": True})


def test_delegation_refusals(people, make_task):
    bob = people["assignee"]
    task = make_task(assignee="bob")
    _refused(
        403,
        "task_action_not_allowed",
        services.do_delegate_task,
        task,
        user=people["candidate"],
        delegate=people["member"],
    )
    _refused(400, "invalid", services.do_delegate_task, task, user=bob, delegate=bob)
    _refused(409, "task_wrong_status", services.do_resolve_task, task, user=bob)


def test_a_managers_reassignment_ends_a_delegation(people, make_task):
    task = make_task(assignee="bob")
    services.do_delegate_task(task, user=people["assignee"], delegate=people["member"])
    services.do_assign_task(task, user=people["manager"], assignee=people["other"])
    task.refresh_from_db()
    assert (task.status, task.owner, task.assignee) == ("assigned", None, people["other"])


# --- draft / complete ---------------------------------------------------------------------


def test_the_assignee_saves_a_draft(people, make_task):
    task = make_task(assignee="bob")
    follow_up = timezone.now() + timedelta(days=1)
    services.do_save_draft(task, user=people["assignee"], data={"a": 1}, follow_up_at=follow_up)
    task.refresh_from_db()
    assert task.draft == {"a": 1} and task.follow_up_at == follow_up
    _refused(
        400, "task_data_invalid", services.do_save_draft, task, user=people["assignee"], data=[1]
    )
    _refused(
        403, "task_action_not_allowed", services.do_save_draft, task, user=people["member"], data={}
    )
    _refused(404, "task_not_found", services.do_save_draft, task, user=people["other"], data={})
    unassigned = make_task()
    message = _refused(
        409, "task_wrong_status", services.do_save_draft, unassigned, user=people["member"], data={}
    )
    assert "claim it first" in message


def test_completing_records_the_outcome_and_queues_the_resume_signal(people, make_task):
    task = make_task(assignee="bob")
    services.do_complete_task(task, user=people["assignee"], outcome="approved", data={"x": "\x00"})
    task.refresh_from_db()
    assert (task.status, task.outcome, task.output) == ("completed", "approved", {"x": "\x00"})
    assert task.completed_by == people["assignee"] and task.completed_at is not None
    resume = TaskResume.objects.get(task=task)
    assert resume.status == "pending" and resume.workflow_id == task.workflow_id
    assert resume.signal == {
        "task_id": str(task.pk),
        "kind": "completed",
        "outcome": "approved",
        "data": {"x": "\x00"},
        "user": "bob",
    }
    assert _published(task)[-1] == "io.xflow.task.completed"
    assert available_actions(task, people["assignee"]) == ["comment"]
    message = _refused(
        409, "task_wrong_status", services.do_complete_task, task, user=people["assignee"]
    )
    assert "completed" in message
    assert TaskResume.objects.filter(task=task).count() == 1


@pytest.mark.parametrize(
    ("outcome", "data", "code"),
    [
        (None, {}, "task_unknown_outcome"),
        ("maybe", {}, "task_unknown_outcome"),
        ("approved", ["not", "an", "object"], "task_data_invalid"),
        ("approved", {"blob": "x" * (1024 * 1024 + 1)}, "task_data_invalid"),
    ],
)
def test_completion_refuses_bad_outcomes_and_data(people, make_task, outcome, data, code):
    task = make_task(assignee="bob")
    _refused(
        400,
        code,
        services.do_complete_task,
        task,
        user=people["assignee"],
        outcome=outcome,
        data=data,
    )
    task.refresh_from_db()
    assert task.status == "assigned"
    assert not TaskResume.objects.exists()


def test_a_task_without_outcomes_is_completed_without_one(people, make_task):
    task = make_task(assignee="bob", outcomes=[])
    _refused(
        400,
        "task_unknown_outcome",
        services.do_complete_task,
        task,
        user=people["assignee"],
        outcome="approved",
    )
    services.do_complete_task(task, user=people["assignee"], data={"done": True})
    assert TaskResume.objects.get(task=task).signal["outcome"] is None


def test_only_the_assignee_completes(people, make_task):
    task = make_task(assignee="bob")
    for who in ("candidate", "member", "manager", "operator"):
        _refused(
            403,
            "task_action_not_allowed",
            services.do_complete_task,
            task,
            user=people[who],
            outcome="approved",
        )


def test_the_form_schema_validates_the_data_when_the_forms_app_provides_one(
    people, make_task, monkeypatch
):
    # The forms app is not there yet: its future hook is stood in for (no real server exists).
    from apps.tasks import forms_link

    schema = {"type": "object", "required": ["reason"], "properties": {"days": {"type": "integer"}}}
    monkeypatch.setattr(forms_link, "form_schema", lambda task: schema)
    monkeypatch.setattr("apps.tasks.services.actions.form_schema", lambda task: schema)
    task = make_task(assignee="bob", formKey="leave")
    with pytest.raises(ServiceError) as caught:
        services.do_complete_task(
            task, user=people["assignee"], outcome="approved", data={"days": "three"}
        )
    assert caught.value.code == "task_data_invalid"
    assert set(caught.value.fields) == {"data", "data.days"}


# --- comments, attachments, deletion ------------------------------------------------------


def test_participants_comment_and_outsiders_may_not(people, make_task):
    task = make_task(assignee="bob")
    comment = services.do_comment_task(task, user=people["member"], text="  I can help  ")
    assert comment.text == "I can help" and comment.author == people["member"]
    _refused(404, "task_not_found", services.do_comment_task, task, user=people["other"], text="x")
    _refused(400, "invalid", services.do_comment_task, task, user=people["assignee"], text="   ")
    assert _kinds(task)[-1] == "commented"


def test_who_may_attach_a_file_and_the_history_says_so(people, make_task, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.files.services import do_upload_file

    settings.MEDIA_ROOT = str(tmp_path)

    def attach(task, user, name="cv.pdf"):
        upload = SimpleUploadedFile(name, b"%PDF-1.4 cv", content_type="application/pdf")
        return do_upload_file(user=people[user], upload=upload, task=task)

    queued = make_task()  # unassigned: its candidates may add material
    assert attach(queued, "member").task_id == queued.pk
    task = make_task(assignee="bob")
    stored = attach(task, "assignee")
    assert stored.task_id == task.pk and list(task.attachments.all()) == [stored]
    assert _kinds(task).count("attached") == 1
    assert attach(task, "operator").owner == people["operator"]
    # A candidate of a task someone else holds, and an outsider (who sees nothing), may not.
    _refused(403, "task_action_not_allowed", attach, task, "member")
    _refused(404, "task_not_found", attach, task, "other")
    services.do_complete_task(task, user=people["assignee"], outcome="approved", data={})
    _refused(409, "task_wrong_status", attach, task, "assignee")
    assert task.attachments.count() == 2


def test_operators_delete_open_tasks_and_the_process_is_told(people, make_task):
    task = make_task(assignee="bob")
    _refused(403, "task_action_not_allowed", services.do_delete_task, task, user=people["manager"])
    services.do_delete_task(task, user=people["operator"], reason="duplicate")
    task.refresh_from_db()
    assert task.status == "deleted"
    assert TaskResume.objects.get(task=task).signal["kind"] == "deleted"
    assert _published(task)[-1] == "io.xflow.task.deleted"
    _refused(409, "task_wrong_status", services.do_delete_task, task, user=people["operator"])


# --- the engine side ------------------------------------------------------------------------


def test_time_out_closes_the_task_and_a_late_completion_is_superseded(people, make_task):
    open_task = make_task()
    services.do_timeout_task(open_task)
    services.do_timeout_task(open_task)  # a retried activity
    open_task.refresh_from_db()
    assert open_task.status == "timed_out"
    assert _kinds(open_task) == ["created", "timed_out"]
    assert _published(open_task)[-1] == "io.xflow.task.timed_out"

    # The completion committed, but the workflow's timer fired before its signal arrived:
    # the workflow took onTaskTimeout, and the row follows the workflow.
    late = make_task(assignee="bob")
    services.do_complete_task(late, user=people["assignee"], outcome="approved")
    services.do_timeout_task(late)
    late.refresh_from_db()
    assert late.status == "timed_out"
    superseded = TaskEvent.objects.get(task=late, event_type="superseded")
    assert superseded.details["outcome"] == "approved"


def test_cancel_and_cancel_of_an_instances_tasks(people, make_task):
    from apps.workflows.models import WorkflowDefinition, WorkflowInstance

    definition = WorkflowDefinition.objects.create(
        key="k", version="1", source="{}", document={"id": "k"}, status="published"
    )
    instance = WorkflowInstance.objects.create(
        definition=definition, definition_key="k", version="1", workflow_id="xflow-x"
    )
    tasks = [make_task(), make_task(assignee="bob"), make_task()]
    UserTask.objects.filter(pk__in=[t.pk for t in tasks]).update(instance=instance)
    services.do_complete_task(tasks[1], user=people["assignee"], outcome="approved")
    assert services.do_cancel_tasks_of_instance(instance) == 2
    statuses = dict(UserTask.objects.values_list("pk", "status"))
    assert [statuses[t.pk] for t in tasks] == ["cancelled", "completed", "cancelled"]
    assert services.do_cancel_tasks_of_instance(instance) == 0


def test_a_remind_timer_mails_once_per_firing(
    people, make_task, mailoutbox, django_capture_on_commit_callbacks
):
    task = make_task(assignee="bob")
    timer = {"name": "remind", "after": "PT24H", "action": "remind"}
    with django_capture_on_commit_callbacks(execute=True):
        services.do_fire_timer(task, timer=timer, fire_count=1)
        services.do_fire_timer(task, timer=timer, fire_count=1)  # the activity retried
    assert [m.to for m in mailoutbox] == [["bob@example.com"]]
    assert "Reminder" in mailoutbox[0].subject
    assert _kinds(task).count("reminded") == 1


def test_an_escalation_hands_the_task_to_the_timers_groups(
    people, make_user, make_task, mailoutbox, django_capture_on_commit_callbacks
):
    lead = make_user("lena", groups=["hr-leads"])
    task = make_task(assignee="bob")
    timer = {"name": "escalate", "action": "escalate", "candidateGroups": ["hr-leads"]}
    with django_capture_on_commit_callbacks(execute=True):
        services.do_fire_timer(task, timer=timer, fire_count=1)
    task.refresh_from_db()
    assert task.candidate_groups == ["hr-leads"]
    assert task.status == "unassigned" and task.assignee is None and task.escalations == 1
    assert "claim" in available_actions(task, lead)
    assert "claim" not in available_actions(task, people["member"])
    assert _published(task)[-1] == "io.xflow.task.escalated"
    assert sorted(m.to[0] for m in mailoutbox) == ["alice@example.com", "lena@example.com"]


def test_an_event_timer_and_listeners_produce_the_definitions_events(people, make_task):
    event = {"name": "TaskNotification", "type": "org.example.task", "source": "/hr"}
    task = make_task(
        listeners=[
            {"on": ["created", "claimed"], "produceEventRef": "TaskNotification", "event": event}
        ],
    )
    services.do_claim_task(task, user=people["candidate"])
    services.do_fire_timer(
        task,
        timer={"name": "ping", "action": "event", "produceEventRef": "TaskNotification"},
        fire_count=1,
    )
    produced = list(
        OutboxEvent.objects.filter(event_type="org.example.task")
        .order_by("id")
        .values_list("data", flat=True)
    )
    assert [d["event"] for d in produced] == ["created", "claimed", "timer"]
    assert produced[1]["assignee"] == "alice" and produced[1]["id"] == str(task.pk)
    row = OutboxEvent.objects.filter(event_type="org.example.task").first()
    assert row.source == "/hr" and row.attributes["xflowtaskid"] == str(task.pk)


def test_emails_on_assignment_and_when_a_group_may_claim(
    people, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assigned = services.do_create_task(task_request(assignee="bob"), strict=False)
    assert [m.to for m in mailoutbox] == [["bob@example.com"]]
    assert str(assigned.pk) in mailoutbox[0].body
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        queued = services.do_create_task(task_request(), strict=False)
    # alice is a candidate user, carol is in hr: one message each
    assert sorted(m.to[0] for m in mailoutbox) == ["alice@example.com", "carol@example.com"]
    assert all("queue" in m.subject for m in mailoutbox)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.do_claim_task(queued, user=people["member"])
    assert mailoutbox == []  # claiming for oneself mails nobody
