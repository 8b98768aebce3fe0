"""Structural validation: the official 0.8 JSON schema plus our extension schema.

The official schema validates `states` as an `anyOf` over eight state types, which makes every
mistake in a state read "not valid under any of the given schemas". Each state is therefore
validated against the one definition its `type` names. Because every state definition requires
its own `type` constant, this gives the same verdict as the `anyOf`, with errors that are useful.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource

from .issues import WARNING, IssueCode, ValidationIssue, issue, unique
from .messages import keys_phrase, show, suggest, translate

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema"
OFFICIAL_BASE = "https://serverlessworkflow.io/schemas/0.8/"
WORKFLOW_ID = OFFICIAL_BASE + "workflow.json"
EXTENSIONS_ID = "https://xflow.invalid/schemas/0.8/xflow-extensions.json"

# state type -> definition in workflow.json (switch is split by its conditions below)
STATE_DEFINITIONS = {
    "sleep": "sleepstate",
    "event": "eventstate",
    "operation": "operationstate",
    "parallel": "parallelstate",
    "inject": "injectstate",
    "foreach": "foreachstate",
    "callback": "callbackstate",
}
EXTENSION_STATE_TYPES = ("usertask",)
STATE_TYPES = tuple(sorted([*STATE_DEFINITIONS, "switch", *EXTENSION_STATE_TYPES]))


@lru_cache(maxsize=16)
def _read(name: str) -> dict:
    """A schema file as a dict; shared, so copy before changing it."""
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def official_registry() -> Registry:
    """The ten official schema files, unchanged."""
    resources = [
        Resource.from_contents(_read(path.name))
        for path in sorted(SCHEMA_DIR.glob("*.json"))
        if path.name != "xflow-extensions.json"
    ]
    return Registry().with_resources((resource.id(), resource) for resource in resources)


@lru_cache(maxsize=1)
def _registry() -> Registry:
    """Official schemas with xflow's accepted deviation, plus the extension schema."""
    functions = copy.deepcopy(_read("functions.json"))
    # xFlow writes a rest function's operation as an inline OpenAPI path object as well as
    # the 0.8 `file#operationId` string; semantic checks limit objects to rest functions.
    functions["definitions"]["function"]["properties"]["operation"] = {
        "oneOf": [{"type": "string", "minLength": 1}, {"type": "object", "minProperties": 1}]
    }
    registry = official_registry().with_resource(
        functions["$id"], Resource.from_contents(functions)
    )
    extensions = _read("xflow-extensions.json")
    return registry.with_resource(EXTENSIONS_ID, Resource.from_contents(extensions))


@lru_cache(maxsize=1)
def official_validator() -> Draft7Validator:
    """Plain validator of the unmodified official workflow schema."""
    return Draft7Validator(_read("workflow.json"), registry=official_registry())


@lru_cache(maxsize=32)
def _validator(ref: str) -> Draft7Validator:
    if ref == "root":
        root = copy.deepcopy(_read("workflow.json"))
        root["properties"]["states"]["items"] = {}  # states are validated one by one below
        return Draft7Validator(root, registry=_registry())
    return Draft7Validator({"$ref": ref}, registry=_registry())


def _state_ref(definition: str) -> str:
    return f"{WORKFLOW_ID}#/definitions/{definition}"


def check_structure(doc: dict) -> list[ValidationIssue]:
    """Schema errors of a definition, as readable issues (empty when it is schema-valid)."""
    found: list[ValidationIssue] = []
    for error in _validator("root").iter_errors(doc):
        found.extend(translate(error))
    states = doc.get("states")
    if isinstance(states, list):
        for index, state in enumerate(states):
            found.extend(_check_state(state, ("states", index)))
    if "envs" in doc:
        found.extend(_errors(f"{EXTENSIONS_ID}#/definitions/envs", doc["envs"], ("envs",)))
    found.extend(_top_level_typos(doc))
    return _drop_redundant(unique(found))


def _drop_redundant(found: list[ValidationIssue]) -> list[ValidationIssue]:
    # A value of the wrong type also fails its enum/length/pattern rules; saying "must be a
    # string" is enough.
    wrong_type = {i.path for i in found if i.code == IssueCode.TYPE}
    secondary = {IssueCode.ENUM, IssueCode.MIN_LENGTH, IssueCode.PATTERN}
    return [i for i in found if not (i.path in wrong_type and i.code in secondary)]


def _top_level_typos(doc: dict) -> list[ValidationIssue]:
    # 0.8 allows extra top-level properties (they act like metadata), so an unknown key is not
    # an error; one that is a near miss of a real property is almost surely a typo.
    known = [*_read("workflow.json")["properties"], "envs"]
    found = []
    for key in doc:
        if isinstance(key, str) and key not in known:
            hint = suggest(key, known)
            if hint:
                message = f"'{key}' is not a workflow property and is ignored{hint}"
                found.append(issue((key,), IssueCode.UNKNOWN_PROPERTY, message, WARNING))
    return found


def _errors(ref: str, instance: Any, base: tuple) -> list[ValidationIssue]:
    return [i for error in _validator(ref).iter_errors(instance) for i in translate(error, base)]


def _check_state(state: Any, path: tuple) -> list[ValidationIssue]:
    if not isinstance(state, dict):
        return [issue(path, IssueCode.TYPE, "each state must be an object (mapping)")]
    kind = state.get("type")
    allowed = keys_phrase(list(STATE_TYPES), "or")
    if "type" not in state:
        return [issue(path, IssueCode.REQUIRED, f"the state has no 'type'; use one of {allowed}")]
    if kind not in STATE_TYPES:
        message = f"unknown state type {show(kind)}; use one of {allowed}"
        return [
            issue(
                path + ("type",),
                IssueCode.UNKNOWN_STATE_TYPE,
                message + suggest(kind, STATE_TYPES),
            )
        ]
    if kind == "usertask":
        return _errors(f"{EXTENSIONS_ID}#/definitions/usertask", state, path)
    if kind != "switch":
        return _errors(_state_ref(STATE_DEFINITIONS[kind]), state, path)
    has_data, has_events = "dataConditions" in state, "eventConditions" in state
    if has_data and has_events:
        message = "a switch state has either 'dataConditions' or 'eventConditions', not both"
        return [issue(path, IssueCode.CONFLICT, message)]
    if has_events:
        return _errors(_state_ref("eventbasedswitchstate"), state, path)
    found = _errors(_state_ref("databasedswitchstate"), state, path)
    if not has_data:
        message = "a switch state needs 'dataConditions' or 'eventConditions'"
        found = [issue(path, IssueCode.REQUIRED, message)] + [
            i for i in found if "'dataConditions'" not in i.message
        ]
    return found


def is_official_valid(doc: Any) -> bool:
    """The plain verdict of the unmodified official schema (used by tests and tooling)."""
    return official_validator().is_valid(doc)
