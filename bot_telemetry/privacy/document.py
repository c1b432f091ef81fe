"""A ``PrivacyPolicy`` from a small JSON or TOML document (``bot-telemetry serve --privacy``).

    {"log_personal_information": true, "deny_keys": ["customer.account"]}

Its fields are ``PrivacyPolicy``'s own keyword arguments, read from the class itself (names
and types), so a field the class gains is a field the document takes. Each value is checked
against its field's type and every problem names the field; nothing is built from a
document with one.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from .policy import PrivacyPolicy


class PolicyDocumentError(ValueError):
    """A policy document that cannot be used; the message names the file and the field."""


def load_policy(path: str | Path) -> PrivacyPolicy:
    """The policy a JSON file (TOML when its name ends ``.toml``) describes; the errors
    start with the file's name."""
    path = Path(path)
    kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyDocumentError(f"{path}: cannot read it: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise PolicyDocumentError(f"{path}: not {kind}: not UTF-8 text") from None
    try:
        data = tomllib.loads(text) if kind == "TOML" else json.loads(text)
    except ValueError as error:  # TOMLDecodeError and JSONDecodeError are ValueErrors
        raise PolicyDocumentError(f"{path}: not {kind}: {error}") from None
    try:
        return policy_from_document(data)
    except PolicyDocumentError as error:
        raise PolicyDocumentError(f"{path}: {error}") from None


def policy_from_document(data: Any) -> PrivacyPolicy:
    """The policy a parsed document (a mapping of field names to values) describes."""
    if not isinstance(data, Mapping):
        raise PolicyDocumentError(f"expected an object of PrivacyPolicy fields, got {_kind(data)}")
    types_ = _field_types()
    arguments: dict[str, Any] = {}
    for name, value in data.items():
        hint = types_.get(name)
        if hint is None:
            raise PolicyDocumentError(
                f"unknown field {name!r}; the fields are {', '.join(sorted(types_))}"
            )
        arguments[name] = _converted(name, hint, value)
    try:
        return PrivacyPolicy(**arguments)
    except re.error as error:
        raise PolicyDocumentError(
            f"extra_patterns: {error.pattern!r} is not a regular expression: {error}"
        ) from None
    except ValueError as error:  # the class's own checks (an unknown redaction pattern)
        raise PolicyDocumentError(f"redact: {error}") from None


@cache
def _field_types() -> dict[str, Any]:
    hints = typing.get_type_hints(PrivacyPolicy)
    fields = dataclasses.fields(PrivacyPolicy)
    return {field.name: hints[field.name] for field in fields if field.init}


def _converted(name: str, hint: Any, value: Any) -> Any:
    """``value`` as the field's type takes it, or PolicyDocumentError naming the field."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        # A str is what a document can hold of ``bytes | str`` and ``str | re.Pattern``.
        if str in options and isinstance(value, str):
            return value
        others = [option for option in options if option not in (type(None), str, bytes)]
        if len(others) == 1:
            return _converted(name, others[0], value)
        raise PolicyDocumentError(f"{name}: expected {_spelled(hint)}, got {_kind(value)}")
    if origin in (tuple, frozenset):
        item = typing.get_args(hint)[0]
        if not isinstance(value, list):
            raise PolicyDocumentError(f"{name}: expected a list of strings, got {_kind(value)}")
        return origin(
            _converted(f"{name}[{index}]", item, member) for index, member in enumerate(value)
        )
    if hint is bool and isinstance(value, bool):
        return value
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise PolicyDocumentError(f"{name}: expected a number more than 0, got {value}")
        return value
    if hint is str and isinstance(value, str):
        return value
    raise PolicyDocumentError(f"{name}: expected {_spelled(hint)}, got {_kind(value)}")


def _spelled(hint: Any) -> str:
    if typing.get_origin(hint) in (tuple, frozenset):
        return "a list of strings"
    options = typing.get_args(hint) or (hint,)
    words = {bool: "true or false", int: "a whole number", str: "a string"}
    said = [words[option] for option in options if option in words]
    if type(None) in options:
        said.append("null")
    return " or ".join(said) or "a string"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else type(value).__name__
