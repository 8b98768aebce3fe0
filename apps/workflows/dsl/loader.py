"""Read a workflow definition from JSON or YAML text into a plain dict, safely.

Definitions come from operators and integrators, so the loader treats the text as hostile:
size, nesting depth, YAML aliases and tags are bounded before anything is built, and every
problem becomes a `DefinitionSyntaxError` with a line, a column and a sentence a person reads.
"""

from __future__ import annotations

import json
import math
import re
from enum import StrEnum
from typing import Any

import yaml

MAX_DEFINITION_BYTES = 1024 * 1024
MAX_DEPTH = 64
# A real definition has a few thousand values. YAML is read at ~5 µs per value, so the text
# may hold at most MAX_YAML_NODES values and, with aliases expanded, at most
# MAX_YAML_EXPANDED (a "billion laughs" document needs millions and stops here quickly).
MAX_YAML_NODES = 50_000
MAX_YAML_EXPANDED = 200_000
# PostgreSQL stores neither in text; \u escapes in JSON and YAML strings can produce both.
_UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")

_LOADER_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_ALLOWED_TAGS = {
    _STR_TAG,
    _MERGE_TAG,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
}


class SyntaxCode(StrEnum):
    """Stable codes of `DefinitionSyntaxError`."""

    DUPLICATE_KEY = "duplicate_key"
    EMPTY = "empty"
    ENCODING = "encoding"
    NON_STRING_KEY = "non_string_key"
    NOT_FINITE = "nan"
    NOT_MAPPING = "not_mapping"
    SYNTAX = "syntax"
    TOO_DEEP = "too_deep"
    TOO_LARGE = "too_large"
    YAML_ALIAS = "yaml_alias"
    YAML_TAG = "yaml_tag"


class DefinitionSyntaxError(ValueError):
    """The text is not a readable definition; `line`/`column` are 1-based when known."""

    def __init__(
        self, message: str, *, line: int | None = None, column: int | None = None, code: str
    ) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.code = code
        self.filename: str | None = None
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class _TooManyNodes(Exception):
    pass


class _DefinitionLoader(_LOADER_BASE):  # type: ignore[misc, valid-type]
    """Safe loader with YAML 1.2-like scalars: `on`/`yes`/`no` and dates stay strings."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.nodes_left = MAX_YAML_NODES

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        # The composer asks for every node's tag: the one hook that bounds its work.
        self.nodes_left -= 1
        if self.nodes_left < 0:
            raise _TooManyNodes
        return super().resolve(kind, value, implicit)


# PyYAML implements YAML 1.1, which reads `on:` (our usertask listeners key), `yes` and `no`
# as booleans, `012` as octal 10, `1:20` as 80 and bare dates as datetime objects. A
# definition is a JSON document, so plain scalars follow YAML 1.2's core schema instead.
_CORE_RESOLVERS = (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
)
_DefinitionLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag == _MERGE_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _pattern, _first in _CORE_RESOLVERS:
    _DefinitionLoader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _construct_int(loader: _DefinitionLoader, node: yaml.ScalarNode) -> int:
    value = str(loader.construct_scalar(node)).strip()
    if value[:2] in ("0o", "0O"):
        return int(value[2:], 8)
    if value[:2] in ("0x", "0X"):
        return int(value[2:], 16)
    return int(value, 10)


def _construct_float(loader: _DefinitionLoader, node: yaml.ScalarNode) -> float:
    return float(str(loader.construct_scalar(node)).strip().replace(".inf", "inf"))


_DefinitionLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_DefinitionLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def load_definition(text: str | bytes, *, filename: str | None = None) -> dict:
    """Parse JSON or YAML text into a definition dict or raise DefinitionSyntaxError."""
    try:
        return _load(text)
    except DefinitionSyntaxError as exc:
        exc.filename = filename
        raise


def _load(text: str | bytes) -> dict:
    text = _decode(text)
    if not text.strip():
        raise DefinitionSyntaxError("the definition is empty", code=SyntaxCode.EMPTY)
    doc = _load_json_or_yaml(text) if text.lstrip()[:1] in ("{", "[") else _load_yaml(text)
    if not isinstance(doc, dict):
        kind = "a list" if isinstance(doc, list) else f"the single value {json.dumps(doc)[:40]}"
        raise DefinitionSyntaxError(
            f"the top level must be a mapping of workflow properties (id, states, ...), not {kind}",
            line=1,
            column=1,
            code=SyntaxCode.NOT_MAPPING,
        )
    return doc


def _load_json_or_yaml(text: str) -> Any:
    # JSON first for its exact positions; a flow-style YAML document (`{id: x, ...}`) also
    # starts with a brace, so a JSON syntax error falls back to YAML before being reported.
    try:
        return _load_json(text)
    except DefinitionSyntaxError as json_error:
        if json_error.code != SyntaxCode.SYNTAX:
            raise
        try:
            return _load_yaml(text)
        except DefinitionSyntaxError:
            raise json_error from None


def _decode(text: str | bytes) -> str:
    if isinstance(text, str):
        size = len(text)
        if size <= MAX_DEFINITION_BYTES:
            try:
                size = len(text.encode("utf-8"))
            except UnicodeEncodeError as exc:
                line, column = _position(text[: exc.start])
                raise DefinitionSyntaxError(
                    "the text contains a character that is not valid Unicode",
                    line=line,
                    column=column,
                    code=SyntaxCode.ENCODING,
                ) from None
    elif isinstance(text, bytes | bytearray | memoryview):
        text = bytes(text)
        size = len(text)
    else:
        raise DefinitionSyntaxError("the definition must be text", code=SyntaxCode.ENCODING)
    if size > MAX_DEFINITION_BYTES:
        raise DefinitionSyntaxError(
            f"the definition is {size:,} bytes;"
            f" the limit is 1 MiB ({MAX_DEFINITION_BYTES:,} bytes)",
            code=SyntaxCode.TOO_LARGE,
        )
    if isinstance(text, bytes):
        if b"\x00" in text[:8192]:
            raise DefinitionSyntaxError(
                "the file looks binary; a definition is JSON or YAML text", code=SyntaxCode.ENCODING
            )
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line, column = _position(text[: exc.start].decode("utf-8", "replace"))
            raise DefinitionSyntaxError(
                "the file is not UTF-8 text (save it as UTF-8)",
                line=line,
                column=column,
                code=SyntaxCode.ENCODING,
            ) from None
    if "\x00" in text:
        raise DefinitionSyntaxError(
            "the text contains NUL characters; a definition is JSON or YAML text",
            code=SyntaxCode.ENCODING,
        )
    return text.removeprefix("\ufeff")


def _position(prefix: str) -> tuple[int, int]:
    line = prefix.count("\n") + 1
    return line, len(prefix) - (prefix.rfind("\n") + 1) + 1


# --- JSON -------------------------------------------------------------------------------------


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _pairs_to_dict(pairs: list[tuple[str, Any]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise DefinitionSyntaxError(
        f"{name} is not a JSON number; write a finite number or a string",
        code=SyntaxCode.NOT_FINITE,
    )


_JSON_MESSAGES = (
    ("Expecting ',' delimiter", "expected a ',' between items (or a closing bracket)"),
    ("Expecting ':' delimiter", "expected a ':' after the property name"),
    (
        "Expecting property name enclosed in double quotes",
        "expected a property name in double quotes (a trailing comma before '}' is not allowed)",
    ),
    ("Expecting value", "expected a value (a string, number, object, list, true, false or null)"),
    ("Unterminated string", "a string is not closed (missing '\"')"),
    ("Invalid control character", "a string contains a raw control character (escape it)"),
    ("Invalid \\escape", "a string contains an invalid backslash escape"),
    ("Invalid \\uXXXX escape", "a string contains an invalid \\u escape"),
    ("Extra data", "unexpected text after the end of the JSON document"),
)


def _load_json(text: str) -> Any:
    try:
        doc = json.loads(text, object_pairs_hook=_pairs_to_dict, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        message = next(
            (plain for prefix, plain in _JSON_MESSAGES if exc.msg.startswith(prefix)), exc.msg
        )
        if exc.msg.startswith("Invalid control character") and text[exc.pos : exc.pos + 1] == "\n":
            message = "a string is not closed before the end of the line"
        raise DefinitionSyntaxError(
            f"invalid JSON: {message}", line=exc.lineno, column=exc.colno, code=SyntaxCode.SYNTAX
        ) from None
    except _DuplicateKey as dup:
        line, column = _locate_duplicate_json(text, dup.key)
        raise DefinitionSyntaxError(
            f"the key '{dup.key}' appears twice in the same object",
            line=line,
            column=column,
            code=SyntaxCode.DUPLICATE_KEY,
        ) from None
    except RecursionError:
        raise DefinitionSyntaxError(
            f"the document is nested too deeply (the limit is {MAX_DEPTH} levels)",
            code=SyntaxCode.TOO_DEEP,
        ) from None
    except DefinitionSyntaxError as exc:
        if exc.code == SyntaxCode.NOT_FINITE:
            exc.line, exc.column = _locate_constant(text)
        raise exc from None
    except ValueError:  # an integer literal with thousands of digits
        raise DefinitionSyntaxError(
            "invalid JSON: a number has too many digits", code=SyntaxCode.SYNTAX
        ) from None
    _check_depth(doc)
    return doc


def _locate_constant(text: str) -> tuple[int | None, int | None]:
    # NaN/Infinity outside strings: the first bare occurrence after a ':' , '[' or ','.
    match = re.search(r"[:\[,]\s*(-?Infinity|NaN)\b", text)
    if not match:
        return None, None
    return _position(text[: match.start(1)])


def _locate_duplicate_json(text: str, key: str) -> tuple[int | None, int | None]:
    # Positions are not known to the C decoder: YAML's composer (JSON is a YAML subset for
    # these documents) walks the same structure with marks. Only runs on this error path.
    try:
        node = _DefinitionLoader(text).get_single_node()
    except (yaml.YAMLError, _TooManyNodes):
        return None, None
    stack, seen = [node], 0
    while stack and seen < MAX_YAML_EXPANDED:
        current = stack.pop()
        seen += 1
        if isinstance(current, yaml.MappingNode):
            keys: set = set()
            for key_node, value_node in current.value:
                if key_node.value == key and key in keys:
                    return key_node.start_mark.line + 1, key_node.start_mark.column + 1
                keys.add(key_node.value)
                stack.append(value_node)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return None, None


def _check_depth(doc: Any) -> None:
    """Refuse documents nested deeper than MAX_DEPTH or holding non-finite numbers or text
    that cannot be stored (a NUL or a lone surrogate, written as a \\u escape)."""
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise DefinitionSyntaxError(
                f"the document is nested more than {MAX_DEPTH} levels deep",
                code=SyntaxCode.TOO_DEEP,
            )
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, dict):
            for key in value:
                _check_text(key)
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, float) and not math.isfinite(value):  # e.g. 1e999
            raise DefinitionSyntaxError(
                "a number is too large to represent; write a smaller number or a string",
                code=SyntaxCode.NOT_FINITE,
            )


# --- YAML -------------------------------------------------------------------------------------


def _at(node: yaml.Node, code: SyntaxCode, message: str) -> DefinitionSyntaxError:
    line, column = _mark(node)
    return DefinitionSyntaxError(message, line=line, column=column, code=code)


def _mark(node_or_error: Any) -> tuple[int | None, int | None]:
    mark = getattr(node_or_error, "start_mark", None) or getattr(
        node_or_error, "problem_mark", None
    )
    if mark is None:
        return None, None
    return mark.line + 1, mark.column + 1


def _load_yaml(text: str) -> Any:
    loader = _DefinitionLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            line, column = _mark(exc)
            problem = exc.problem or "invalid YAML"
            if exc.context and "nesting depth" not in problem:
                problem = f"{problem} ({exc.context})"
            code = SyntaxCode.TOO_DEEP if "nesting depth" in problem else SyntaxCode.SYNTAX
            if "expected a single document" in str(exc.context):
                problem = "the file holds more than one YAML document ('---'); keep one per file"
            raise DefinitionSyntaxError(
                f"invalid YAML: {problem}", line=line, column=column, code=code
            ) from None
        except yaml.reader.ReaderError as exc:
            line, column = _position(text[: exc.position])
            char = exc.character if isinstance(exc.character, int) else ord(exc.character)
            raise DefinitionSyntaxError(
                f"invalid YAML: the control character U+{char:04X} is not allowed in YAML text",
                line=line,
                column=column,
                code=SyntaxCode.SYNTAX,
            ) from None
        except yaml.YAMLError as exc:
            raise DefinitionSyntaxError(f"invalid YAML: {exc}", code=SyntaxCode.SYNTAX) from None
        except _TooManyNodes:
            raise DefinitionSyntaxError(
                f"the document holds more than {MAX_YAML_NODES:,} values;"
                " a workflow definition is far smaller",
                code=SyntaxCode.TOO_LARGE,
            ) from None
        if node is None:
            raise DefinitionSyntaxError("the definition is empty", code=SyntaxCode.EMPTY)
        _check_yaml_nodes(node)
        try:
            return loader.construct_document(node)
        except yaml.YAMLError as exc:
            line, column = _mark(exc)
            raise DefinitionSyntaxError(
                f"invalid YAML: {getattr(exc, 'problem', None) or exc}",
                line=line,
                column=column,
                code=SyntaxCode.SYNTAX,
            ) from None
        except Exception:  # noqa: BLE001 - PyYAML's constructors raise KeyError, ValueError...
            raise DefinitionSyntaxError(
                "invalid YAML: a value cannot be converted (a tag such as !!int on text,"
                " or a number with too many digits)",
                code=SyntaxCode.SYNTAX,
            ) from None
    finally:
        loader.dispose()


def _check_yaml_nodes(root: yaml.Node) -> None:
    """Walk the node graph as it would expand, bounding aliases, depth, keys and tags."""
    visited = 0
    # (node, depth, ancestors): ancestors catch recursive aliases, which never finish expanding.
    stack: list[tuple[yaml.Node, int, frozenset[int]]] = [(root, 1, frozenset())]
    while stack:
        node, depth, ancestors = stack.pop()
        visited += 1
        if visited > MAX_YAML_EXPANDED:
            raise _at(
                node,
                SyntaxCode.YAML_ALIAS,
                "the document expands to too many values (YAML aliases repeat too much)",
            )
        if id(node) in ancestors:
            raise _at(
                node,
                SyntaxCode.YAML_ALIAS,
                "a YAML alias refers to a value that contains it (a recursive alias)",
            )
        if node.tag not in _ALLOWED_TAGS:
            raise _at(
                node,
                SyntaxCode.YAML_TAG,
                f"the YAML tag '{node.tag.replace('tag:yaml.org,2002:', '!!')}' is not allowed;"
                " use plain JSON values",
            )
        if isinstance(node, yaml.ScalarNode):
            _check_text(node.value, node)
            if node.tag == "tag:yaml.org,2002:float" and _is_non_finite(node.value):
                raise _at(
                    node,
                    SyntaxCode.NOT_FINITE,
                    f"'{node.value}' is not a finite number; write a number or quote it",
                )
            continue
        if depth > MAX_DEPTH:
            raise _at(
                node,
                SyntaxCode.TOO_DEEP,
                f"the document is nested more than {MAX_DEPTH} levels deep",
            )
        inner = ancestors | {id(node)}
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1, inner) for child in node.value)
            continue
        keys: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                stack.append((value_node, depth, inner))
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR_TAG:
                raise _at(
                    key_node,
                    SyntaxCode.NON_STRING_KEY,
                    "keys must be strings; put this key in quotes",
                )
            _check_text(key_node.value, key_node)
            if key_node.value in keys:
                first = _mark(keys[key_node.value])[0]
                raise _at(
                    key_node,
                    SyntaxCode.DUPLICATE_KEY,
                    f"the key '{key_node.value}' appears twice in the same mapping"
                    f" (first at line {first})",
                )
            keys[key_node.value] = key_node
            stack.append((value_node, depth + 1, inner))


def _check_text(text: str, node: yaml.Node | None = None) -> None:
    """A NUL or an unpaired surrogate (from a \\u escape) cannot be stored: refuse it."""
    found = _UNSTORABLE_TEXT.search(text)
    if found is None:
        return
    if found.group() == "\x00":
        problem = "a NUL character (\\u0000)"
    else:
        problem = "an unpaired surrogate (\\ud800-\\udfff), which is not valid Unicode"
    message = f"a string contains {problem}; a definition is text"
    if node is not None:
        raise _at(node, SyntaxCode.ENCODING, message)
    raise DefinitionSyntaxError(message, code=SyntaxCode.ENCODING)


def _is_non_finite(value: str) -> bool:
    text = value.strip().lower().lstrip("+-")
    try:
        return text in (".inf", ".nan") or not math.isfinite(float(text))
    except ValueError:  # not a number: the constructor reports it
        return False
