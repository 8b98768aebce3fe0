"""Reading a definition document into the model (apps.workflows.dsl.model).

Accepts every shorthand the spec allows (string `start`/`transition`/`functionRef`/
`subFlowRef`/`continueAs`, `end: true`...) and a few spellings of the spec's own examples;
trusts that the document was validated and raises `ModelError` only on shapes it cannot
read at all. Pure: imported inside the workflow sandbox (passed through).
"""

from __future__ import annotations

from typing import Any

from apps.workflows.dsl.model import (
    Action,
    ActionDataFilter,
    AuthDef,
    Branch,
    CallbackState,
    ContinueAs,
    Correlation,
    DataCondition,
    DefaultCondition,
    End,
    ErrorDef,
    ErrorHandler,
    EventCondition,
    EventDataFilter,
    EventDef,
    EventRef,
    EventState,
    ForEachState,
    FunctionDef,
    FunctionRef,
    InjectState,
    ModelError,
    OnEvents,
    OperationState,
    ParallelState,
    ProducedEvent,
    RetryDef,
    SleepState,
    Start,
    State,
    StateDataFilter,
    StateExecTimeout,
    SubFlowRef,
    SwitchState,
    TaskListener,
    TaskOutcome,
    TaskTimer,
    Timeouts,
    Transition,
    UserTaskState,
    Workflow,
    WorkflowExecTimeout,
)


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise ModelError(f"'{value}' is not a number") from None


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ModelError(f"'{value}' is not a number") from None


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _inline(value: Any, what: str) -> Any:
    """Refuse a resource given by URI (see _list)."""
    if isinstance(value, str):
        raise ModelError(
            f"{what} refers to '{value}'; resources given by URI must be inlined in the "
            "definition before it runs"
        )
    return value


def _list(value: Any, what: str = "this property") -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str):
        # The spec allows functions/events/errors/retries/auth by URI; reading them is I/O,
        # which the interpreter cannot do: the platform inlines them before an instance runs.
        _inline(value, what)
    raise ModelError(f"{what} must be a list, not {type(value).__name__}")


def _produced(raw: Any) -> tuple[ProducedEvent, ...]:
    out = []
    for item in _list(raw):
        ctx = item.get("contextAttributes") or {}
        # The spec's own example writes contextAttributes as a list of one-key objects.
        if isinstance(ctx, list):
            merged: dict[str, Any] = {}
            for part in ctx:
                merged.update(_dict(part))
            ctx = merged
        out.append(
            ProducedEvent(event_ref=item["eventRef"], data=item.get("data"), context_attributes=ctx)
        )
    return tuple(out)


def parse_transition(raw: Any) -> Transition | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        return Transition(next_state=raw)
    if isinstance(raw, dict):
        return Transition(
            next_state=raw["nextState"],
            compensate=bool(raw.get("compensate", False)),
            produce_events=_produced(raw.get("produceEvents")),
        )
    raise ModelError("a transition is a state name or an object with nextState")


def _wf_exec_timeout(raw: Any) -> WorkflowExecTimeout | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return WorkflowExecTimeout(duration=raw)
    return WorkflowExecTimeout(
        duration=raw["duration"],
        interrupt=bool(raw.get("interrupt", False)),
        run_before=raw.get("runBefore"),
    )


def parse_end(raw: Any) -> End | None:
    if raw is None or raw is False:
        return None
    if raw is True:
        return End()
    if isinstance(raw, dict):
        cont = raw.get("continueAs")
        continue_as = None
        if isinstance(cont, str):
            continue_as = ContinueAs(workflow_id=cont)
        elif isinstance(cont, dict):
            continue_as = ContinueAs(
                workflow_id=cont["workflowId"],
                version=_s(cont.get("version")),
                data=cont.get("data"),
                workflow_exec_timeout=_wf_exec_timeout(cont.get("workflowExecTimeout")),
            )
        return End(
            terminate=bool(raw.get("terminate", False)),
            produce_events=_produced(raw.get("produceEvents")),
            compensate=bool(raw.get("compensate", False)),
            continue_as=continue_as,
        )
    raise ModelError("an end is true or an object")


def parse_timeouts(raw: Any) -> Timeouts | None:
    if not isinstance(raw, dict):
        return None
    state = raw.get("stateExecTimeout")
    if isinstance(state, str):
        state_t: StateExecTimeout | None = StateExecTimeout(total=state)
    elif isinstance(state, dict):
        state_t = StateExecTimeout(total=state.get("total"), single=state.get("single"))
    else:
        state_t = None
    return Timeouts(
        workflow_exec_timeout=_wf_exec_timeout(raw.get("workflowExecTimeout")),
        state_exec_timeout=state_t,
        action_exec_timeout=raw.get("actionExecTimeout"),
        branch_exec_timeout=raw.get("branchExecTimeout"),
        event_timeout=raw.get("eventTimeout"),
        task_timeout=raw.get("taskTimeout"),
    )


def _state_filter(raw: Any) -> StateDataFilter:
    raw = _dict(raw)
    return StateDataFilter(input=raw.get("input"), output=raw.get("output"))


def _action_filter(raw: Any) -> ActionDataFilter:
    raw = _dict(raw)
    return ActionDataFilter(
        from_state_data=raw.get("fromStateData"),
        use_results=bool(raw.get("useResults", True)),
        results=raw.get("results"),
        to_state_data=raw.get("toStateData"),
    )


def _event_filter(raw: Any) -> EventDataFilter:
    raw = _dict(raw)
    return EventDataFilter(
        use_data=bool(raw.get("useData", True)),
        data=raw.get("data"),
        to_state_data=raw.get("toStateData"),
    )


def parse_action(raw: dict[str, Any]) -> Action:
    fref = raw.get("functionRef")
    function_ref = None
    if isinstance(fref, str):
        function_ref = FunctionRef(ref_name=fref)
    elif isinstance(fref, dict):
        function_ref = FunctionRef(
            ref_name=fref["refName"],
            # `parameters` is the pre-0.7 spelling the spec's expressions section still uses.
            arguments=_dict(fref.get("arguments", fref.get("parameters"))),
            selection_set=fref.get("selectionSet"),
            invoke=fref.get("invoke", "sync"),
        )
    eref = raw.get("eventRef")
    event_ref = None
    if isinstance(eref, dict):
        event_ref = EventRef(
            trigger_event_ref=eref["triggerEventRef"],
            result_event_ref=eref.get("resultEventRef"),
            result_event_timeout=eref.get("resultEventTimeout"),
            data=eref.get("data"),
            context_attributes=_dict(eref.get("contextAttributes")),
            invoke=eref.get("invoke", "sync"),
        )
    sref = raw.get("subFlowRef")
    sub_flow_ref = None
    if isinstance(sref, str):
        sub_flow_ref = SubFlowRef(workflow_id=sref)
    elif isinstance(sref, dict):
        sub_flow_ref = SubFlowRef(
            workflow_id=sref["workflowId"],
            version=_s(sref.get("version")),
            invoke=sref.get("invoke", "sync"),
            on_parent_complete=sref.get("onParentComplete", "terminate"),
        )
    sleep = _dict(raw.get("sleep"))
    retryable = raw.get("retryableErrors")
    # `actionFilter` is how the spec's own expression-function example spells it.
    filter_raw = raw.get("actionDataFilter", raw.get("actionFilter"))
    return Action(
        id=raw.get("id"),
        name=raw.get("name"),
        function_ref=function_ref,
        event_ref=event_ref,
        sub_flow_ref=sub_flow_ref,
        retry_ref=raw.get("retryRef"),
        non_retryable_errors=tuple(raw.get("nonRetryableErrors") or ()),
        retryable_errors=None if retryable is None else tuple(retryable),
        action_data_filter=_action_filter(filter_raw),
        sleep_before=sleep.get("before"),
        sleep_after=sleep.get("after"),
        condition=raw.get("condition"),
    )


def _actions(raw: Any) -> tuple[Action, ...]:
    return tuple(parse_action(a) for a in _list(raw))


def _on_errors(raw: Any) -> tuple[ErrorHandler, ...]:
    out = []
    for item in _list(raw):
        refs = list(item.get("errorRefs") or ())
        if item.get("errorRef"):
            refs.insert(0, item["errorRef"])
        out.append(
            ErrorHandler(
                error_refs=tuple(refs),
                transition=parse_transition(item.get("transition")),
                end=parse_end(item.get("end")),
            )
        )
    return tuple(out)


def _condition_target(raw: Any) -> DefaultCondition | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return DefaultCondition(transition=parse_transition(raw))
    return DefaultCondition(
        transition=parse_transition(raw.get("transition")), end=parse_end(raw.get("end"))
    )


def _base(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": raw["name"],
        "type": raw["type"],
        "id": raw.get("id"),
        "state_data_filter": _state_filter(raw.get("stateDataFilter")),
        "transition": parse_transition(raw.get("transition")),
        "end": parse_end(raw.get("end")),
        "on_errors": _on_errors(raw.get("onErrors")),
        "timeouts": parse_timeouts(raw.get("timeouts")),
        "compensated_by": raw.get("compensatedBy"),
        "used_for_compensation": bool(raw.get("usedForCompensation", False)),
        "metadata": _dict(raw.get("metadata")),
    }


def _event_state(raw: dict[str, Any], base: dict[str, Any]) -> State:
    on_events = tuple(
        OnEvents(
            event_refs=tuple(item.get("eventRefs") or ()),
            action_mode=item.get("actionMode", "sequential"),
            actions=_actions(item.get("actions")),
            event_data_filter=_event_filter(item.get("eventDataFilter")),
        )
        for item in _list(raw.get("onEvents"))
    )
    return EventState(**base, exclusive=bool(raw.get("exclusive", True)), on_events=on_events)


def _switch_state(raw: dict[str, Any], base: dict[str, Any]) -> State:
    data_conditions = tuple(
        DataCondition(
            condition=c["condition"],
            name=c.get("name"),
            transition=parse_transition(c.get("transition")),
            end=parse_end(c.get("end")),
            metadata=_dict(c.get("metadata")),
        )
        for c in _list(raw.get("dataConditions"))
    )
    event_conditions = tuple(
        EventCondition(
            event_ref=c["eventRef"],
            name=c.get("name"),
            transition=parse_transition(c.get("transition")),
            end=parse_end(c.get("end")),
            event_data_filter=_event_filter(c.get("eventDataFilter")),
            metadata=_dict(c.get("metadata")),
        )
        for c in _list(raw.get("eventConditions"))
    )
    # The spec's example 08 puts `eventTimeout` on the state itself: accept both places.
    if raw.get("eventTimeout") and not (base["timeouts"] and base["timeouts"].event_timeout):
        old = base["timeouts"] or Timeouts()
        base["timeouts"] = Timeouts(
            workflow_exec_timeout=old.workflow_exec_timeout,
            state_exec_timeout=old.state_exec_timeout,
            action_exec_timeout=old.action_exec_timeout,
            branch_exec_timeout=old.branch_exec_timeout,
            event_timeout=raw["eventTimeout"],
        )
    return SwitchState(
        **base,
        data_conditions=data_conditions,
        event_conditions=event_conditions,
        default_condition=_condition_target(raw.get("defaultCondition")) or DefaultCondition(),
    )


def _parallel_state(raw: dict[str, Any], base: dict[str, Any]) -> State:
    branches = tuple(
        Branch(
            name=b.get("name") or f"branch{i}",
            actions=_actions(b.get("actions")),
            timeouts=parse_timeouts(b.get("timeouts")),
        )
        for i, b in enumerate(_list(raw.get("branches")))
    )
    return ParallelState(
        **base,
        branches=branches,
        completion_type=raw.get("completionType", "allOf"),
        num_completed=_int(raw.get("numCompleted")),
    )


def _foreach_state(raw: dict[str, Any], base: dict[str, Any]) -> State:
    return ForEachState(
        **base,
        input_collection=raw.get("inputCollection", ""),
        output_collection=raw.get("outputCollection"),
        iteration_param=raw.get("iterationParam"),
        batch_size=_int(raw.get("batchSize")),
        mode=raw.get("mode", "parallel"),
        actions=_actions(raw.get("actions")),
    )


def _callback_state(raw: dict[str, Any], base: dict[str, Any]) -> State:
    action = raw.get("action")
    return CallbackState(
        **base,
        action=parse_action(action) if isinstance(action, dict) else None,
        event_ref=raw.get("eventRef", ""),
        event_data_filter=_event_filter(raw.get("eventDataFilter")),
    )


def _usertask_state(raw: dict[str, Any], base: dict[str, Any]) -> State:
    outcomes = tuple(
        TaskOutcome(
            name=o["name"],
            label=o.get("label"),
            data_filter=o.get("dataFilter"),
            transition=parse_transition(o.get("transition")),
            end=parse_end(o.get("end")),
        )
        for o in _list(raw.get("outcomes"))
    )
    listeners = tuple(
        TaskListener(
            on=tuple([lst["on"]] if isinstance(lst.get("on"), str) else lst.get("on") or ()),
            produce_event_ref=lst.get("produceEventRef"),
        )
        for lst in _list(raw.get("listeners"))
    )
    timers = tuple(
        TaskTimer(
            name=t.get("name") or f"timer{i}",
            after=t.get("after"),
            every=t.get("every"),
            max=_int(t.get("max")),
            action=t.get("action", "remind"),
            raw=dict(t),
        )
        for i, t in enumerate(_list(raw.get("timers")))
    )
    return UserTaskState(
        **base,
        task_key=raw.get("taskKey", ""),
        title=raw.get("title"),
        form_key=raw.get("formKey"),
        assignee=raw.get("assignee"),
        candidate_users=tuple(raw.get("candidateUsers") or ()),
        candidate_groups=tuple(raw.get("candidateGroups") or ()),
        priority=raw.get("priority", 50),
        due_date=raw.get("dueDate"),
        data_filter=raw.get("dataFilter"),
        outcomes=outcomes,
        listeners=listeners,
        timers=timers,
        on_task_timeout=_condition_target(raw.get("onTaskTimeout")),
        on_task_deleted=_condition_target(raw.get("onTaskDeleted")),
        raw=dict(raw),
    )


_STATE_PARSERS = {
    "event": _event_state,
    "operation": lambda raw, base: OperationState(
        **base,
        action_mode=raw.get("actionMode", "sequential"),
        actions=_actions(raw.get("actions")),
    ),
    "switch": _switch_state,
    "sleep": lambda raw, base: SleepState(**base, duration=raw.get("duration", "PT0S")),
    "parallel": _parallel_state,
    "inject": lambda raw, base: InjectState(**base, data=raw.get("data", {})),
    "foreach": _foreach_state,
    "callback": _callback_state,
    "usertask": _usertask_state,
}

STATE_TYPES = tuple(_STATE_PARSERS)


def parse_state(raw: dict[str, Any]) -> State:
    kind = raw.get("type")
    parser = _STATE_PARSERS.get(kind)  # type: ignore[arg-type]
    if parser is None:
        raise ModelError(f"state '{raw.get('name')}' has an unknown type '{kind}'")
    return parser(raw, _base(raw))


def _function(raw: dict[str, Any]) -> FunctionDef:
    return FunctionDef(
        name=raw["name"],
        operation=raw.get("operation", ""),
        type=raw.get("type", "rest"),
        auth_ref=raw.get("authRef"),
        metadata=_dict(raw.get("metadata")),
        raw=dict(raw),
    )


def _event(raw: dict[str, Any]) -> EventDef:
    return EventDef(
        name=raw["name"],
        type=raw.get("type", ""),
        source=raw.get("source"),
        kind=raw.get("kind", "consumed"),
        correlation=tuple(
            Correlation(
                context_attribute_name=c["contextAttributeName"],
                context_attribute_value=c.get("contextAttributeValue"),
            )
            for c in _list(raw.get("correlation"))
        ),
        data_only=bool(raw.get("dataOnly", True)),
        metadata=_dict(raw.get("metadata")),
        raw=dict(raw),
    )


def _retry(raw: dict[str, Any]) -> RetryDef:
    jitter = raw.get("jitter")
    if isinstance(jitter, str):
        try:
            jitter = float(jitter)
        except ValueError:
            pass  # an ISO duration
    return RetryDef(
        name=raw["name"],
        delay=raw.get("delay"),
        max_attempts=_int(raw.get("maxAttempts")),
        max_delay=raw.get("maxDelay"),
        increment=raw.get("increment"),
        multiplier=_float(raw.get("multiplier")),
        jitter=jitter,
    )


def _start(raw: Any) -> Start | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return Start(state_name=raw)
    return Start(state_name=raw["stateName"], schedule=raw.get("schedule"))


def build_workflow(doc: dict[str, Any], digest: str) -> Workflow:
    """The Workflow for a definition document whose content hash is digest."""
    if not isinstance(doc, dict):
        raise ModelError("a workflow definition is a JSON object")
    try:
        states = tuple(parse_state(s) for s in _list(doc.get("states"), "states"))
        functions = tuple(_function(f) for f in _list(doc.get("functions"), "functions"))
        events = tuple(_event(e) for e in _list(doc.get("events"), "events"))
        errors = tuple(
            ErrorDef(name=e["name"], code=_s(e.get("code")), description=e.get("description"))
            for e in _list(doc.get("errors"), "errors")
        )
        retries = tuple(_retry(r) for r in _list(doc.get("retries"), "retries"))
        auth = tuple(
            AuthDef(
                name=a["name"],
                scheme=a.get("scheme", "basic"),
                properties=a.get("properties"),
                raw=dict(a),
            )
            for a in _list(doc.get("auth"), "auth")
        )
    except KeyError as exc:
        raise ModelError(f"a required property is missing: {exc.args[0]}") from None
    secrets = doc.get("secrets")
    return Workflow(
        id=doc.get("id"),
        key=doc.get("key"),
        name=doc.get("name"),
        description=doc.get("description"),
        version=_s(doc.get("version")),
        spec_version=str(doc.get("specVersion", "0.8")),
        annotations=tuple(doc.get("annotations") or ()),
        data_input_schema=doc.get("dataInputSchema"),
        start=_start(doc.get("start")),
        expression_lang=doc.get("expressionLang", "jq"),
        timeouts=parse_timeouts(_inline(doc.get("timeouts"), "timeouts")),
        errors=errors,
        keep_active=bool(doc.get("keepActive", False)),
        auth=auth,
        events=events,
        functions=functions,
        auto_retries=bool(doc.get("autoRetries", False)),
        retries=retries,
        states=states,
        constants=_dict(_inline(doc.get("constants"), "constants")),
        secrets=tuple(secrets) if isinstance(secrets, list) else (),
        envs=tuple(doc.get("envs") or ()),
        metadata=_dict(doc.get("metadata")),
        content_hash=digest,
        states_by_name={s.name: s for s in states},
        functions_by_name={f.name: f for f in functions},
        events_by_name={e.name: e for e in events},
        errors_by_name={e.name: e for e in errors},
        retries_by_name={r.name: r for r in retries},
        auth_by_name={a.name: a for a in auth},
        expression_functions=tuple(
            (f.name, f.operation)
            for f in functions
            if f.type == "expression" and isinstance(f.operation, str)
        ),
    )
