"""Requests made from Python keyword arguments, refused in the caller's words.

``query(start_time="soon", ...)`` and ``journeys.funnel(engine, steps=[...], count_by="x")``
build the JSON body the HTTP API takes (``startTime``, ``countBy``) and parse it with the
same checks; a refusal then names what the caller wrote, ``start_time``, ``count_by``, not
a JSON name they never typed. A request given as a JSON body (a dict) keeps the JSON names.

    body = json_body({"count_by": "user"}, FUNNEL_FIELDS, "funnel")   # {"countBy": "user"}
    try:
        FunnelRequest.parse(body)
    except RequestError as error:
        raise in_python_words(error, python_names(FUNNEL_FIELDS)) from None
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from .request import RequestError

_Error = TypeVar("_Error", bound=RequestError)
_CAPITAL = re.compile(r"(?<=[a-z0-9])([A-Z])")
#: A quoted value in a refusal ('startTime' the caller sent as a value), kept as it is.
_QUOTED = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""


def python_name(json_name: str) -> str:
    """``startTime`` as a Python argument: ``start_time``."""
    return _CAPITAL.sub(r"_\1", json_name).lower()


def json_body(arguments: Mapping[str, Any], fields: Sequence[str], function: str) -> dict[str, Any]:
    """The JSON body keyword ``arguments`` stand for (``start_time`` for ``startTime``), each
    of ``fields``; any other is a TypeError, as Python says it of ``function``'s arguments,
    with the arguments it takes (and the nearest, for a typo)."""
    by_python = {python_name(name): name for name in fields}
    for name in arguments:
        if name not in by_python:
            near = difflib.get_close_matches(python_name(name), by_python, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise TypeError(
                f"{function}() got an unexpected keyword argument {name!r}{hint}; it takes "
                + ", ".join(by_python)
            )
    return {by_python[name]: value for name, value in arguments.items()}


def python_names(fields: Iterable[str], prefix: str = "") -> dict[str, str]:
    """Each JSON field (under ``prefix``, ``measures[0].``) with its Python name."""
    return {f"{prefix}{name}": f"{prefix}{python_name(name)}" for name in fields}


def in_python_words(error: _Error, names: Mapping[str, str]) -> _Error:
    """``error`` as the Python caller would say it: each JSON name in ``names`` (a field, or a
    path ``measures[0].timeGranularity``) that its field starts with or its text says, in its
    Python spelling; values it quotes are left as they are."""
    if not names:
        return error
    ordered = sorted(names, key=len, reverse=True)  # measures[0].pageSize before measures
    words = re.compile(
        rf"({_QUOTED})|(?<![\w.\[])({'|'.join(re.escape(name) for name in ordered)})(?!\w)"
    )

    def said(text: str) -> str:
        return words.sub(lambda m: m.group(1) or names[m.group(2)], text)

    field = error.field
    for name in ordered:
        if field == name or field.startswith((f"{name}.", f"{name}[")):
            field = names[name] + field[len(name) :]
            break
    # The same kind of error with the same attributes (not through __init__: the journeys'
    # builds its text otherwise), its field and text renamed.
    renamed = type(error).__new__(type(error))
    renamed.__dict__.update(error.__dict__)
    renamed.field = field
    renamed.expected = said(error.expected)
    text = str(error)
    if text.startswith(error.field):  # "startTime: expected ...": the field as renamed above
        text = field + said(text[len(error.field) :])
    else:
        text = said(text)
    renamed.args = (text,)
    return renamed
