"""Telemetry that never passed a bot's privacy policy, made safe as it arrives at ``serve``.

A bot's process (``configure()`` marks its resource ``telemetry.distro.name``
``bot-telemetry``) applied its policy before sending, and is stored as it came. Everything
else did not: a web page's spans (the OpenTelemetry JS web SDK records every URL the page
calls: ``/api/profile?mobile=…``), and any other service pointed at ``serve``. For those,
``serve`` applies its policy (``ServerConfig.policy()``: ``--privacy FILE``, else the
process's ``current_policy()``) where the OpenTelemetry semantic conventions say what a
value is:

* URLs (``url.full``, ``http.url``, ``http.target``, ``url.path``) as the bot records its
  own (``PrivacyPolicy.url``): no query, fragment or credentials unless personal data may
  be logged, personal path segments replaced; ``url.query`` left out or redacted alike;
* the user's ids and names (``enduser.id``, ``user.*``), the client's address
  (``client.address``, ``http.client_ip``; a SERVER span's peer address) and exception
  messages (``exception.message``, a span's status message) as the policy treats those
  keys: left out, unless personal data may be logged, then redacted; a stack trace loses
  its exception's message and the patterns;
* span, event and log record names with the patterns replaced (``PrivacyPolicy.name``),
  and a log record's text body too, as the developer's own text is (inside its strings when
  it is JSON).

* the sender's resource as a span's attributes: ``user.*``, ``enduser.*``,
  ``process.owner``, ``device.id`` and, on a user's device (``browser.*``, ``device.*``),
  ``host.name``, ``host.id``, ``host.ip`` and ``host.mac`` are the user's.

The policy's own lists hold too (but never on a resource's ``service.*``, ``telemetry.*``
and ``deployment.*``, which the app map and the stored rows need): a key in ``deny_keys``
(or, with ``allow_keys``, one it does not list) is left out wherever it is; one in
``safe_keys`` is stored as sent.

Other attributes are stored as sent: judged by the bot's rules for keys it has never seen,
a service's ``server.address``, ``db.name`` or ``messaging.destination.name`` would be left
out for their names, and the app map and traces need them.
"""

from __future__ import annotations

from typing import Any, Final

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from ..contract import DISTRO_NAME, RESOURCE_DISTRO_NAME
from ..privacy import PrivacyPolicy
from .otlp import Signal

_URLS: Final = frozenset({"http.url", "url.full", "http.target"})
_PATH: Final = "url.path"
_QUERY: Final = "url.query"
_MESSAGE: Final = "exception.message"
_STACKTRACE: Final = "exception.stacktrace"
#: Keys whose values are the user's (OpenTelemetry's ``user.*``, ``enduser.*`` and
#: ``client.*``), and an exception's message, which quotes whatever it was handed.
_PERSONAL: Final = frozenset(
    {
        "enduser.id",
        "user.id",
        "user.name",
        "user.full_name",
        "user.email",
        "user.hash",
        "client.address",
        "client.socket.address",
        "http.client_ip",
        _MESSAGE,
    }
)
#: The other end of a connection: on a SERVER span, the user's device.
_PEER: Final = frozenset({"net.peer.ip", "net.sock.peer.addr", "network.peer.address"})
_NO_PEER: Final = frozenset[str]()
#: A resource's keys that name a person (OpenTelemetry's ``user.*`` and ``enduser.*``, the
#: account a process runs as, a mobile device's id) ...
_RESOURCE_PERSONAL: Final = frozenset({"process.owner", "device.id"})
_RESOURCE_PERSONAL_PREFIXES: Final = ("user.", "enduser.")
#: ... and, on a user's device (a browser's or a mobile app's resource: ``browser.*``,
#: ``device.*``), its host's name ("Grace's iPhone"), id and addresses.
_CLIENT_HOST: Final = frozenset({"host.name", "host.id", "host.ip", "host.mac"})
_CLIENT_PREFIXES: Final = ("browser.", "device.")
#: What the app map and the stored rows' service need: kept whatever the policy's key lists.
_RESOURCE_NEEDED_PREFIXES: Final = ("service.", "telemetry.", "deployment.")
_JUDGED: Final = _PERSONAL | _URLS | {_PATH, _QUERY, _STACKTRACE}
_POINT_KINDS: Final = ("sum", "gauge", "histogram", "exponential_histogram", "summary")


def from_a_bot(resource: Any) -> bool:
    """Whether an OTLP ``Resource`` is a process that applied the policy itself."""
    return any(
        pair.key == RESOURCE_DISTRO_NAME and pair.value.string_value == DISTRO_NAME
        for pair in resource.attributes
    )


def make_safe(signal: Signal, request: Any, policy: PrivacyPolicy) -> None:
    """A decoded export request with the telemetry of every resource but a bot's made safe
    (in place)."""
    if signal is Signal.TRACES:
        for resource_spans in request.resource_spans:
            if not from_a_bot(resource_spans.resource):
                _resource(resource_spans.resource, policy)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        _span(span, policy)
    elif signal is Signal.LOGS:
        for resource_logs in request.resource_logs:
            if not from_a_bot(resource_logs.resource):
                _resource(resource_logs.resource, policy)
                for scope_logs in resource_logs.scope_logs:
                    for record in scope_logs.log_records:
                        _log_record(record, policy)
    else:
        for resource_metrics in request.resource_metrics:
            if not from_a_bot(resource_metrics.resource):
                _resource(resource_metrics.resource, policy)
                for scope_metrics in resource_metrics.scope_metrics:
                    for metric in scope_metrics.metrics:
                        for kind in _POINT_KINDS:
                            if metric.HasField(kind):
                                for point in getattr(metric, kind).data_points:
                                    _attributes(point.attributes, policy, _NO_PEER)


def _resource(resource: Any, policy: PrivacyPolicy) -> None:
    """A resource's attributes as a span's are treated: its keys that name a person are the
    user's, its ``service.*``, ``telemetry.*`` and ``deployment.*`` never left out."""
    keys = [pair.key for pair in resource.attributes]
    client = any(key.startswith(_CLIENT_PREFIXES) for key in keys)
    personal = frozenset(
        key
        for key in keys
        if key in _RESOURCE_PERSONAL
        or key.startswith(_RESOURCE_PERSONAL_PREFIXES)
        or (client and key in _CLIENT_HOST)
    )
    needed = frozenset(key for key in keys if key.startswith(_RESOURCE_NEEDED_PREFIXES))
    _attributes(resource.attributes, policy, personal, needed)


def _span(span: Any, policy: PrivacyPolicy) -> None:
    span.name = policy.name(span.name)
    peer = _PEER if span.kind == Span.SPAN_KIND_SERVER else _NO_PEER
    _attributes(span.attributes, policy, peer)
    for event in span.events:
        event.name = policy.name(event.name)
        _attributes(event.attributes, policy, _NO_PEER)
    for link in span.links:
        _attributes(link.attributes, policy, _NO_PEER)
    if span.status.message:
        span.status.message = _personal(span.status.message, policy) or ""


def _log_record(record: Any, policy: PrivacyPolicy) -> None:
    if record.event_name:
        record.event_name = policy.name(record.event_name)
    if record.body.WhichOneof("value") == "string_value":
        record.body.string_value = policy.redact_value(record.body.string_value)
    _attributes(record.attributes, policy, _NO_PEER)


def _attributes(
    attributes: Any,
    policy: PrivacyPolicy,
    peer: frozenset[str],
    needed: frozenset[str] = _NO_PEER,
) -> None:
    """``peer``: more keys whose values are the user's; ``needed``: keys the policy's key
    lists never leave out."""
    dropped: list[int] = []
    message = ""
    stacktraces = []
    # The policy's own lists of keys: what it denies (or does not allow) is left out,
    # what it calls safe is stored as sent. Usually none, and then nothing more is asked.
    listed = bool(policy.deny_keys) or policy.allow_keys is not None
    safe = policy.safe_keys
    for index, pair in enumerate(attributes):
        key = pair.key
        if listed and not policy.admits(key) and key not in needed:
            dropped.append(index)
            continue
        if key not in _JUDGED and key not in peer:
            continue  # most: one set lookup, the value not read
        if safe and key in safe:
            continue
        value = pair.value
        text = value.WhichOneof("value") == "string_value"
        if key in _URLS:
            if text:
                value.string_value = policy.url(value.string_value)
        elif key == _PATH:
            if text:
                value.string_value = policy.url_path(value.string_value)
        elif key == _STACKTRACE:
            if text:
                stacktraces.append(value)
        else:
            if key == _MESSAGE and text:
                message = value.string_value
            if not policy.log_personal_information:
                dropped.append(index)
            elif text:
                value.string_value = policy.redact_text(value.string_value)
    for value in stacktraces:
        # The trace repeats the message (Python's last line, Java's first).
        value.string_value = policy.free_text(value.string_value, [message] if message else [])
    # In place, from the end: rebuilding the list copied every attribute (~10 us a span).
    for index in reversed(dropped):
        del attributes[index]


def _personal(text: str, policy: PrivacyPolicy) -> str | None:
    """Text that is the user's: None unless personal data may be logged, then redacted."""
    return policy.redact_text(text) if policy.log_personal_information else None
