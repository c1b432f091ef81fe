"""A data exhaust request as Sunbird UCI's API takes it: validation, the request id, the tag.

    request = parse_submit(body)          # RequestError(field, expected) when it is wrong
    request.request_id                    # 'C5D1...' (upper-case hex MD5), as UCI computes it
    request.stored_tag                    # '<tag>:<channel>'

The request id is the MD5 of ``dataset|tag|requestedBy|requestedChannel|yyyy-MM-dd|type``
(the submission's UTC date), so the same request on the same day is the same job; a ``|``
inside tag, requestedBy or requestedChannel is refused, or two requests could share an id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Final

RESPONSE_EXHAUST: Final = "uci-response-exhaust"
PRIVATE_EXHAUST: Final = "uci-private-exhaust"
DATASETS: Final = (RESPONSE_EXHAUST, PRIVATE_EXHAUST)
OUTPUT_FORMATS: Final = ("csv",)
MIN_KEY_LENGTH: Final = 8
#: What the request id joins its fields with (UCI's rule); refused inside them.
ID_SEPARATOR: Final = "|"
_NAME = re.compile(r"[^:/\\\s]{1,200}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DAY_NS: Final = 86_400 * 10**9
_MIN_NS: Final = -(2**63)
_MAX_NS: Final = 2**63 - 1
_EPOCH: Final = dt.date(1970, 1, 1)


class RequestError(ValueError):
    """A request field is missing or wrong: ``field`` names it, the message says what was
    expected."""

    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.status = status


@dataclass(frozen=True)
class DatasetConfig:
    type: str
    conversation_id: str
    start_date: dt.date
    end_date: dt.date

    def as_json(self) -> dict[str, str]:
        """As UCI echoes it back."""
        return {
            "type": self.type,
            "conversationId": self.conversation_id,
            "startDate": self.start_date.isoformat(),
            "endDate": self.end_date.isoformat(),
        }

    @property
    def bounds_ns(self) -> tuple[int, int]:
        """The window in ns: from the start date's midnight (UTC) to the midnight after the
        end date (both dates included), within what a 64-bit count of nanoseconds holds
        (1677-09-21 to 2262-04-11), as every stored time is: an end date such as 9999-12-31
        ("until now") takes everything after the start, a start date such as 0001-01-01
        everything before the end."""
        start = _midnight_ns(self.start_date)
        end = _midnight_ns(self.end_date) + _DAY_NS
        return _in_range(start), _in_range(end)


@dataclass(frozen=True)
class ExhaustRequest:
    dataset: str
    tag: str
    requested_by: str
    requested_channel: str
    config: DatasetConfig
    output_format: str = "csv"
    encryption_key: str | None = None

    @property
    def stored_tag(self) -> str:
        return stored_tag(self.tag, self.requested_channel)

    def request_id(self, on: dt.date) -> str:
        return request_id(
            self.dataset, self.tag, self.requested_by, self.requested_channel, on, self.config.type
        )


def _midnight_ns(day: dt.date) -> int:
    """The date's UTC midnight in ns since the epoch (any date: no datetime arithmetic that
    could leave datetime's range)."""
    return (day - _EPOCH).days * _DAY_NS


def _in_range(ns: int) -> int:
    return min(max(ns, _MIN_NS), _MAX_NS)


def stored_tag(tag: str, channel: str) -> str:
    return f"{tag}:{channel}"


def request_id(
    dataset: str, tag: str, requested_by: str, channel: str, on: dt.date, kind: str
) -> str:
    """UCI's request id: upper-case hex MD5 of ``dataset|tag|requestedBy|channel|date|type``.

    >>> dataset = "uci-response-exhaust"
    >>> request_id(dataset, "t1", "u1", "c1", dt.date(2022, 4, 6), dataset)
    '97E756BD9A4F8CDA77C4EB8599BF8BCD'
    """
    text = ID_SEPARATOR.join((dataset, tag, requested_by, channel, on.isoformat(), kind))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest().upper()


def parse_submit(body: Any) -> ExhaustRequest:
    """The request in a submit body; RequestError naming the first field that is wrong."""
    if not isinstance(body, dict):
        raise RequestError("body", "expected a JSON object with a 'request' object")
    request = body.get("request")
    if not isinstance(request, dict):
        raise RequestError("request", "is missing: expected an object")
    dataset = _text(request, "dataset", "request.dataset", DATASETS)
    tag = _id_part(_name(request, "tag", "request.tag"), "request.tag")
    requested_by = _id_part(
        _text(request, "requestedBy", "request.requestedBy"), "request.requestedBy"
    )
    channel = _id_part(
        _name(request, "requestedChannel", "request.requestedChannel"), "request.requestedChannel"
    )
    config = request.get("datasetConfig")
    if not isinstance(config, dict):
        raise RequestError("request.datasetConfig", "is missing: expected an object")
    kind = _text(config, "type", "request.datasetConfig.type", DATASETS)
    if kind != dataset:
        raise RequestError(
            "request.datasetConfig.type", f"expected {dataset!r}, the request's dataset"
        )
    conversation = _text(config, "conversationId", "request.datasetConfig.conversationId")
    start = _date(config, "startDate")
    end = _date(config, "endDate")
    if end < start:
        raise RequestError(
            "request.datasetConfig.endDate",
            f"{end.isoformat()} is before startDate {start.isoformat()}",
        )
    output = request.get("output_format", "csv")
    if output not in OUTPUT_FORMATS:
        raise RequestError("request.output_format", f"expected 'csv', got {output!r}")
    key = request.get("encryptionKey")
    if key is not None and (not isinstance(key, str) or len(key) < MIN_KEY_LENGTH):
        raise RequestError(
            "request.encryptionKey", f"expected a string of at least {MIN_KEY_LENGTH} characters"
        )
    if dataset == PRIVATE_EXHAUST and not key:
        raise RequestError(
            "request.encryptionKey",
            "is missing: the private exhaust is delivered as a ZIP encrypted with this key",
        )
    return ExhaustRequest(
        dataset=dataset,
        tag=tag,
        requested_by=requested_by,
        requested_channel=channel,
        config=DatasetConfig(kind, conversation, start, end),
        output_format=output,
        encryption_key=key,
    )


def _text(obj: dict[str, Any], key: str, field: str, allowed: tuple[str, ...] | None = None) -> str:
    value = obj.get(key)
    expected = " or ".join(repr(a) for a in allowed) if allowed else "a non-empty string"
    if value is None or value == "":
        raise RequestError(field, f"is missing: expected {expected}")
    if not isinstance(value, str) or (allowed and value not in allowed):
        raise RequestError(field, f"expected {expected}, got {value!r}")
    return value


def _name(obj: dict[str, Any], key: str, field: str) -> str:
    value = _text(obj, key, field)
    if not _NAME.fullmatch(value):
        raise RequestError(field, "expected up to 200 characters without ':', '/' or spaces")
    return value


def _id_part(value: str, field: str) -> str:
    """A field the request id joins with ``|``: one holding a ``|`` could give two different
    requests one id (tag ``p|q`` by ``r``, tag ``p`` by ``q|r``)."""
    if ID_SEPARATOR in value:
        raise RequestError(
            field,
            f"must not contain {ID_SEPARATOR!r}: the request id joins dataset, tag, "
            f"requestedBy and requestedChannel with it, got {value!r}",
        )
    return value


def _date(config: dict[str, Any], key: str) -> dt.date:
    field = f"request.datasetConfig.{key}"
    value = _text(config, key, field)
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise RequestError(field, f"expected a date as yyyy-MM-dd, got {value!r}") from None


__all__ = [
    "DATASETS",
    "PRIVATE_EXHAUST",
    "RESPONSE_EXHAUST",
    "DatasetConfig",
    "ExhaustRequest",
    "RequestError",
    "parse_submit",
    "request_id",
    "stored_tag",
]
