"""Inbox web pages: the lists, a task's page, and what people do to a task (form posts).

Every read goes through the selectors (scoped to what the user may see), every change
through the task services, and the buttons a page offers are `available_actions`: the
pages, the API and the admin never disagree about who may do what. A task the user may
not see is a 404; an action they may not take is a message saying why.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from apps.core.errors import NotFound, ServiceError
from apps.files.services import do_upload_file, missing_error, too_large_error
from apps.files.uploads import declares_too_much, upload_too_large, use_hashing_handler
from apps.tasks import permissions, selectors, services
from apps.tasks.forms import (
    STATUS_VIEWS,
    VIEWS,
    CommentForm,
    DeleteForm,
    TaskDataForm,
    TaskFilterForm,
    UserNameForm,
)
from apps.tasks.forms_link import form_schema
from apps.tasks.models import UserTask
from apps.tasks.services.audit import describe
from apps.workflows.masking import InstanceMasker
from apps.workflows.models import WorkflowInstance

PAGE_SIZE = 25
DIAGRAM_CACHE_SECONDS = 3600


def _masker_for_rows(rows: list[UserTask]) -> dict[Any, Any]:
    """Instance id -> its masker, for the instances of these tasks (one query for all)."""
    ids = {t.instance_id for t in rows if t.instance_id}
    if not ids:
        return {}
    instances = list(
        WorkflowInstance.objects.filter(pk__in=ids)
        .select_related("definition")
        .only("id", "definition__document")
    )
    masker = InstanceMasker()
    masker.prime(instances)
    return {i.pk: masker.masker_for(i) for i in instances}


@login_required
@require_GET
def home(request):
    """One of the user's lists (tab), filtered, sorted, a page at a time."""
    form = TaskFilterForm(request.GET)
    view = request.GET.get("view") if request.GET.get("view") in VIEWS else "mine"
    rows: list[UserTask] = []
    next_cursor = None
    if form.is_valid():
        view = form.cleaned_data["view"]
        ordering = form.cleaned_data.get("ordering") or None
        cursor = form.cleaned_data.get("cursor") or None
        try:
            page = selectors.task_page(
                request.user, view, form.filters(), ordering=ordering, cursor=cursor, size=PAGE_SIZE
            )
        except ServiceError as exc:  # a cursor from an older list: start again
            messages.error(request, exc.message)
            page = selectors.task_page(
                request.user, view, form.filters(), ordering=ordering, size=PAGE_SIZE
            )
        rows, next_cursor = page.rows, page.next_cursor
    now = timezone.now()
    maskers = _masker_for_rows(rows)
    for task in rows:
        task.overdue = bool(task.is_open and task.due_at and task.due_at < now)
        masker = maskers.get(task.instance_id)
        task.shown_title = masker.text(task.title) if masker else task.title
    counts = selectors.counts_for(request.user)
    tabs = [
        {"view": key, "label": label, "count": counts.get(key), "current": key == view}
        for key, label in VIEWS.items()
    ]
    return render(
        request,
        "inbox/list.html",
        {
            "form": form,
            "view": view,
            "view_label": VIEWS[view],
            "tabs": tabs,
            "rows": rows,
            "next_cursor": next_cursor,
            "paged": bool(request.GET.get("cursor")),
            "show_status": view in STATUS_VIEWS,
        },
    )


# --- one task ---------------------------------------------------------------------------------


def _load(request, pk) -> UserTask:
    """The task with what its page shows, or 404 (not told whether it exists)."""
    try:
        return selectors.task_detail(request.user, pk)
    except NotFound:
        raise Http404(permissions.NOT_FOUND_MESSAGE) from None


def _instance_masker(task: UserTask):
    if task.instance_id is None:
        return lambda value: value
    return InstanceMasker().masker_for(task.instance)


def _render_task(
    request,
    task: UserTask,
    *,
    data_form: TaskDataForm | None = None,
    comment_form: CommentForm | None = None,
    status: int = 200,
):
    user = request.user
    actions = set(permissions.available_actions(task, user))
    schema = form_schema(task)
    if data_form is None:
        data_form = TaskDataForm(
            schema=schema, initial=TaskDataForm.initial_from(task.draft, schema)
        )
    mask = _instance_masker(task)
    history = [{"event": e, "text": mask(describe(e))} for e in task.events.all()]
    instance = task.instance
    context = {
        "task": task,
        "title": mask(task.title),
        "actions": actions,
        "overdue": bool(task.is_open and task.due_at and task.due_at < timezone.now()),
        "input": mask(task.input),
        "output": mask(task.output),
        "outcomes": task.outcomes or [],
        "schema": schema,
        "data_form": data_form,
        "comment_form": comment_form or CommentForm(),
        "history": history,
        "instance": instance,
        "process_states": (instance.current_states or []) if instance else [],
        "can_hand_over": bool(actions & {"delegate", "assign"}),
        "file_max_bytes": settings.XFLOW_FILE_MAX_BYTES,
    }
    return render(request, "inbox/task.html", context, status=status)


@login_required
@require_GET
def task_page(request, pk):
    """A task: what it is about, its form and outcomes, comments, history, where the
    process stands; the buttons are what the user may do now."""
    return _render_task(request, _load(request, pk))


@login_required
@require_GET
def task_diagram(request, pk):
    """The task's process drawn with its visited and current states (SVG)."""
    from apps.workflows.dsl.diagram import render_svg

    task = _load(request, pk)
    instance = task.instance
    if instance is None:
        raise Http404("This task belongs to no recorded process.")
    failed = sorted({instance.error.get("state")} - {None}) if instance.error else []
    visited = sorted(instance.visited_states or [])
    current = sorted(instance.current_states or [])
    key = hashlib.sha256(
        repr((instance.definition_id, visited, current, failed)).encode()
    ).hexdigest()
    cache_key = f"inbox:diagram:{key}"
    svg = cache.get(cache_key)
    if svg is None:
        # The definition's document is immutable once published; only the states change.
        svg = render_svg(
            instance.definition.document, visited=visited, current=current, failed=failed
        )
        cache.set(cache_key, svg, DIAGRAM_CACHE_SECONDS)
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-cache"
    return response


# --- actions: each a form POST (CSRF-checked by the middleware) -------------------------------


def _to_task(pk, anchor: str = ""):
    return redirect(reverse("inbox:task", args=[pk]) + anchor)


def _after(request, task: UserTask, message: str, anchor: str = ""):
    """Say what happened; back to the task if the user still sees it, else to the inbox."""
    messages.success(request, message)
    if permissions.can_view(task, request.user):
        return _to_task(task.pk, anchor)
    return redirect("inbox:home")


def _quoted(task: UserTask) -> str:
    """The task's title for a message, its process's secrets masked."""
    title = task.title
    if task.instance_id:
        instance = WorkflowInstance.objects.select_related("definition").get(pk=task.instance_id)
        title = InstanceMasker().masker_for(instance).text(title)
    return f"“{title}”"


def _claim(request, pk):
    task = services.do_claim_task(UserTask(pk=pk), user=request.user)
    return _after(request, task, f"You claimed {_quoted(task)}: it is in My tasks now.")


def _unclaim(request, pk):
    task = services.do_unclaim_task(UserTask(pk=pk), user=request.user)
    return _after(request, task, f"{_quoted(task)} is back in its queue.")


def _resolve(request, pk):
    task = services.do_resolve_task(UserTask(pk=pk), user=request.user)
    owner = task.assignee.get_username() if task.assignee_id else "the queue"
    return _after(request, task, f"You handed {_quoted(task)} back to {owner}.")


def _username(request) -> str:
    form = UserNameForm(request.POST)
    return form.cleaned_data["username"].strip() if form.is_valid() else ""


def _delegate(request, pk):
    name = _username(request)
    if not name:
        raise ServiceError("Name the person to delegate the task to.")
    delegate = services.user_by_name(name, field="delegate")
    task = services.do_delegate_task(UserTask(pk=pk), user=request.user, delegate=delegate)
    return _after(
        request,
        task,
        f"You delegated {_quoted(task)} to {name}; they hand it back to you when done.",
    )


def _assign(request, pk):
    name = _username(request)
    assignee = services.user_by_name(name) if name else None
    task = services.do_assign_task(UserTask(pk=pk), user=request.user, assignee=assignee)
    where = f"to {name}" if name else "back to its queue"
    return _after(request, task, f"{_quoted(task)} is assigned {where}.")


def _delete(request, pk):
    form = DeleteForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    task = services.do_delete_task(UserTask(pk=pk), user=request.user, reason=reason)
    return _after(request, task, f"{_quoted(task)} is deleted; its process takes the deleted path.")


def _data_form(request, pk, *, partial: bool) -> tuple[UserTask, TaskDataForm]:
    task = _load(request, pk)
    return task, TaskDataForm(request.POST, schema=form_schema(task), partial=partial)


def _draft(request, pk):
    task, form = _data_form(request, pk, partial=True)
    if not form.is_valid():
        messages.error(request, "The draft was not saved: correct the fields marked below.")
        return _render_task(request, task, data_form=form, status=400)
    try:
        services.do_save_draft(task, user=request.user, data=form.value())
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _render_task(request, _load(request, pk), data_form=form, status=exc.status_code)
    messages.success(request, "Draft saved. Only you see it until you complete the task.")
    return _to_task(pk, "#work")


def _complete(request, pk):
    task, form = _data_form(request, pk, partial=False)
    outcome = request.POST.get("outcome") or None
    if not form.is_valid():
        messages.error(request, "The task is not completed yet: correct the fields marked below.")
        return _render_task(request, task, data_form=form, status=400)
    try:
        task = services.do_complete_task(
            task, user=request.user, outcome=outcome, data=form.value()
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _render_task(request, _load(request, pk), data_form=form, status=exc.status_code)
    label = next((o.get("label") for o in task.outcomes if o.get("name") == outcome), outcome)
    chosen = f" with “{label}”" if label else ""
    messages.success(
        request,
        f"You completed {_quoted(task)}{chosen}. Its process moves on; the task is under "
        "Completed.",
    )
    return redirect("inbox:home")


def _comment(request, pk):
    form = CommentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The comment was not added: write 1 to 10,000 characters.")
        return _render_task(request, _load(request, pk), comment_form=form, status=400)
    services.do_comment_task(UserTask(pk=pk), user=request.user, text=form.cleaned_data["text"])
    messages.success(request, "Your comment is added.")
    return _to_task(pk, "#comments")


ACTIONS = {
    "claim": _claim,
    "unclaim": _unclaim,
    "resolve": _resolve,
    "delegate": _delegate,
    "assign": _assign,
    "draft": _draft,
    "complete": _complete,
    "comment": _comment,
    "delete": _delete,
}


@login_required
@require_POST
def task_action(request, pk, action: str):
    """Do `action` to the task; a refusal is a message on the task's page, never a 500."""
    handler = ACTIONS.get(action)
    if handler is None:
        raise Http404("There is no such action.")
    try:
        return handler(request, pk)
    except NotFound:
        raise Http404(permissions.NOT_FOUND_MESSAGE) from None
    except ServiceError as exc:
        # The page as it now is, with why not, under the refusal's status (400/403/409).
        messages.error(request, exc.message)
        return _render_task(request, _load(request, pk), status=exc.status_code)


# --- attaching a file: a multipart form post ---------------------------------------------------


@csrf_exempt  # checked by `_attach` below, once the upload handler is in place
@login_required
@require_POST
def task_attach(request, pk):
    """Attach the posted file to the task: streamed, hashed and bounded as the API does it.

    The CSRF check reads the body; the hashing handler must be installed before it, so the
    check runs inside (Django's documented pattern for custom upload handlers).
    """
    use_hashing_handler(request)
    if declares_too_much(request):  # refused unread; nothing changes, so no CSRF to check
        messages.error(request, f"The file was not attached: {too_large_error().message}")
        return _render_task(request, _load(request, pk), status=413)
    return _attach(request, pk)


@csrf_protect
def _attach(request, pk):
    try:
        task = _load(request, pk)
        upload = request.FILES.get("file")
        if upload_too_large(request):
            raise too_large_error()
        if upload is None:
            raise missing_error()
        stored = do_upload_file(user=request.user, upload=upload, task=task)
    except NotFound:
        raise Http404(permissions.NOT_FOUND_MESSAGE) from None
    except ServiceError as exc:
        messages.error(request, f"The file was not attached: {exc.message}")
        return _render_task(request, _load(request, pk), status=exc.status_code)
    messages.success(
        request, f"“{stored.name}” ({filesizeformat(stored.size)}) is attached to the task."
    )
    return _to_task(pk, "#files")
