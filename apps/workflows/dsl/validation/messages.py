"""Turn jsonschema errors into issues a person can act on.

jsonschema speaks in schema terms ("is not valid under any of the given schemas"); users need
the JSON path, what is wrong and what would be right. `oneOf`/`anyOf` failures are resolved to
the alternative the author evidently meant, and that alternative's own errors are reported.
"""

from __future__ import annotations

import difflib
import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from jsonschema.exceptions import ValidationError

from .issues import IssueCode, ValidationIssue, issue

Path = tuple[str | int, ...]

_TYPE_WORDS = {
    "object": "an object (mapping)",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "null",
}

# Messages for `pattern` keywords, by the name of the property that carries the pattern.
_PATTERN_HINTS = {
    "taskKey": "a task key is letters, digits, '-', '_' and '.' (for example 'approve-leave')",
    "formKey": "a form key is a key optionally followed by '@' and a version number"
    " (for example 'leave-approval' or 'leave-approval@3')",
    "envs": "an environment variable name is letters, digits and '_', not starting with a digit",
    "priority": "priority is a whole number from 0 to 100 or an expression '${ ... }'",
}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def show(value: Any, limit: int = 60) -> str:
    """A short quoted rendering of a user value for messages."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"'{text}'" if isinstance(value, str) else text


def suggest(word: Any, choices: Sequence[str]) -> str:
    """'; did you mean 'x'?' for the closest choice, or ''."""
    if not isinstance(word, str) or len(word) > 200:
        return ""
    # Names of very different length cannot reach the 0.6 ratio; skipping them keeps this
    # cheap for documents with thousands of states.
    slack = max(3, len(word) // 2)
    candidates = [c for c in choices if abs(len(c) - len(word)) <= slack][:500]
    match = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def _types_phrase(types: Sequence[str]) -> str:
    words = [_TYPE_WORDS.get(t, t) for t in dict.fromkeys(types)]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def keys_phrase(keys: Sequence[str], joiner: str = "and") -> str:
    quoted = [f"'{k}'" for k in keys]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" {joiner} " + quoted[-1]


def translate(error: ValidationError, base: Path = ()) -> list[ValidationIssue]:
    """All issues one jsonschema error stands for (oneOf/anyOf are resolved recursively)."""
    path = base + tuple(error.absolute_path)
    handler = _HANDLERS.get(str(error.validator))
    if handler is not None:
        return handler(error, path)
    return [issue(path, IssueCode.SCHEMA, error.message)]


def _required(error: ValidationError, path: Path) -> list[ValidationIssue]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    return [
        issue(path, IssueCode.REQUIRED, f"missing the required property '{key}'" + _why(path, key))
        for key in error.validator_value
        if key not in instance
    ]


def _why(path: Path, key: str) -> str:
    if len(path) == 2 and path[0] == "events" and key == "source":
        return " (consumed events need one; set kind: produced for events the workflow emits)"
    return ""


def _min_properties(error: ValidationError, path: Path) -> list[ValidationIssue]:
    return [issue(path, IssueCode.MIN_PROPERTIES, "must not be an empty object")]


def _additional(error: ValidationError, path: Path) -> list[ValidationIssue]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    allowed = list(schema.get("properties", {}))
    extras = [k for k in error.instance if k not in allowed]
    found = []
    for key in extras:
        message = f"'{key}' is not allowed here" + _where_it_belongs(key, schema, allowed)
        found.append(issue(path + (key,), IssueCode.UNKNOWN_PROPERTY, message))
    return found


def _where_it_belongs(key: str, schema: dict, allowed: list[str]) -> str:
    # The spec's own examples put `eventTimeout` beside `timeouts` instead of inside it:
    # when the key is a property of an object-valued sibling, say where it goes.
    for name, sub in schema.get("properties", {}).items():
        if isinstance(sub, dict) and key in sub.get("properties", {}):
            return f"; it belongs inside '{name}' (as {name}.{key})"
    hint = suggest(key, allowed)
    if hint:
        return hint
    if allowed:
        return f"; the allowed properties are {keys_phrase(sorted(allowed))}"
    return ""


def _type(error: ValidationError, path: Path) -> list[ValidationIssue]:
    expected = error.validator_value
    expected = [expected] if isinstance(expected, str) else list(expected)
    got = _TYPE_WORDS.get(json_type(error.instance), "a value")
    message = f"must be {_types_phrase(expected)}, not {got}"
    return [issue(path, IssueCode.TYPE, message)]


def _enum(error: ValidationError, path: Path) -> list[ValidationIssue]:
    options = [str(v) for v in error.validator_value]
    message = f"{show(error.instance)} is not allowed; use one of {keys_phrase(options, 'or')}"
    return [issue(path, IssueCode.ENUM, message + suggest(error.instance, options))]


def _const(error: ValidationError, path: Path) -> list[ValidationIssue]:
    return [issue(path, IssueCode.ENUM, f"must be {show(error.validator_value)}")]


def _min_length(error: ValidationError, path: Path) -> list[ValidationIssue]:
    if error.validator_value <= 1:
        return [issue(path, IssueCode.MIN_LENGTH, "must not be empty")]
    message = f"must be at least {error.validator_value} characters long"
    return [issue(path, IssueCode.MIN_LENGTH, message)]


def _min_items(error: ValidationError, path: Path) -> list[ValidationIssue]:
    if error.validator_value <= 1:
        return [issue(path, IssueCode.MIN_ITEMS, "must not be an empty list")]
    message = f"needs at least {error.validator_value} items"
    return [issue(path, IssueCode.MIN_ITEMS, message)]


def _unique_items(error: ValidationError, path: Path) -> list[ValidationIssue]:
    seen: list[Any] = []
    repeated = None
    for item in error.instance:
        if item in seen:
            repeated = item
            break
        seen.append(item)
    message = "items must be unique" + (
        f"; {show(repeated)} appears more than once" if repeated is not None else ""
    )
    return [issue(path, IssueCode.UNIQUE_ITEMS, message)]


def _bound(error: ValidationError, path: Path) -> list[ValidationIssue]:
    words = {
        "minimum": ("at least", IssueCode.MINIMUM),
        "maximum": ("at most", IssueCode.MAXIMUM),
        "exclusiveMinimum": ("more than", IssueCode.MINIMUM),
        "exclusiveMaximum": ("less than", IssueCode.MAXIMUM),
    }
    phrase, code = words[str(error.validator)]
    return [issue(path, code, f"must be {phrase} {error.validator_value}, not {error.instance}")]


def _multiple_of(error: ValidationError, path: Path) -> list[ValidationIssue]:
    message = f"must be a multiple of {error.validator_value}, not {error.instance}"
    return [issue(path, IssueCode.MULTIPLE_OF, message)]


def _pattern(error: ValidationError, path: Path) -> list[ValidationIssue]:
    names = [p for p in path if isinstance(p, str)]
    hint = _PATTERN_HINTS.get(names[-1] if names else "", "")
    message = f"{show(error.instance)} is not valid" + (f": {hint}" if hint else "")
    return [issue(path, IssueCode.PATTERN, message)]


# --- oneOf / anyOf -----------------------------------------------------------------------------


def _alternatives(error: ValidationError, path: Path) -> list[ValidationIssue]:
    branches = error.validator_value
    instance = error.instance
    base = path[: len(path) - len(error.absolute_path)]
    if not error.context:
        return [_several_match(branches, instance, path)]
    by_branch: dict[int, list[ValidationError]] = defaultdict(list)
    for sub in error.context:
        by_branch[sub.relative_schema_path[0]].append(sub)
    compatible = [
        index
        for index in range(len(branches))
        if not any(s.validator == "type" and not s.relative_path for s in by_branch[index])
    ]
    if not compatible:
        expected: list[str] = []
        for subs in by_branch.values():
            for sub in subs:
                if sub.validator == "type" and not sub.relative_path:
                    value = sub.validator_value
                    expected.extend([value] if isinstance(value, str) else value)
        got = _TYPE_WORDS.get(json_type(instance), "a value")
        return [issue(path, IssueCode.TYPE, f"must be {_types_phrase(expected)}, not {got}")]
    if all(_only(by_branch[i], "required") for i in compatible):
        return _missing_one_of(compatible, by_branch, instance, path)
    if isinstance(instance, dict) and all(
        _only(by_branch[i], "additionalProperties") for i in compatible
    ):
        extras = sorted(
            {
                key
                for i in compatible
                for sub in by_branch[i]
                for key in instance
                if key not in sub.schema.get("properties", {})
            }
        )
        if len(extras) > 1:
            message = f"{keys_phrase(extras)} cannot be used together; keep one"
            return [issue(path, IssueCode.CONFLICT, message)]
    candidates = []
    for index in compatible:
        found = [i for sub in by_branch[index] for i in translate(sub, base)]
        depth = max((len(s.absolute_path) for s in by_branch[index]), default=0)
        candidates.append((len(found), -depth, index, found))
    candidates.sort(key=lambda c: (c[0], c[1], c[2]))
    if candidates[0][3]:
        return candidates[0][3]
    return [issue(path, IssueCode.ONE_OF, "does not match any of the allowed forms")]


def _only(subs: list[ValidationError], validator: str) -> bool:
    return bool(subs) and all(s.validator == validator and not s.relative_path for s in subs)


def _missing_one_of(
    compatible: list[int], by_branch: dict[int, list[ValidationError]], instance: Any, path: Path
) -> list[ValidationIssue]:
    present = set(instance) if isinstance(instance, dict) else set()
    missing_sets = []
    for index in compatible:
        missing: set[str] = set()
        for sub in by_branch[index]:
            missing |= {k for k in sub.validator_value if k not in present}
        missing_sets.append(frozenset(missing))
    minimal = [m for m in set(missing_sets) if not any(o < m for o in missing_sets)]
    common = frozenset.intersection(*minimal) if minimal else frozenset()
    found = [
        issue(path, IssueCode.REQUIRED, f"missing the required property '{key}'")
        for key in sorted(common)
    ]
    options = sorted({tuple(sorted(m - common)) for m in minimal if m - common})
    if options:
        phrases = [keys_phrase(list(o)) for o in options]
        joined = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " or " + phrases[-1]
        found.append(issue(path, IssueCode.REQUIRED, f"needs {joined}"))
    return found


def _several_match(branches: list, instance: Any, path: Path) -> ValidationIssue:
    present = set(instance) if isinstance(instance, dict) else set()
    if all(isinstance(b, dict) and set(b) == {"required"} for b in branches):
        satisfied = [set(b["required"]) for b in branches if set(b["required"]) <= present]
        if satisfied:
            clash = sorted(set.union(*satisfied) - set.intersection(*satisfied))
            if len(clash) > 1:
                message = f"{keys_phrase(clash)} cannot be used together; keep one"
                return issue(path, IssueCode.CONFLICT, message)
    return issue(path, IssueCode.ONE_OF, "matches more than one of the allowed forms")


_HANDLERS = {
    "required": _required,
    "additionalProperties": _additional,
    "type": _type,
    "enum": _enum,
    "const": _const,
    "minLength": _min_length,
    "minItems": _min_items,
    "minProperties": _min_properties,
    "uniqueItems": _unique_items,
    "minimum": _bound,
    "maximum": _bound,
    "exclusiveMinimum": _bound,
    "exclusiveMaximum": _bound,
    "multipleOf": _multiple_of,
    "pattern": _pattern,
    "oneOf": _alternatives,
    "anyOf": _alternatives,
}
