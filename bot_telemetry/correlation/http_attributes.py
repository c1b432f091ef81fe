"""HTTP span attributes (stable semantic conventions) from values we do not control.

Everything taken from a request is bounded: cut to a fixed length and stripped of control
characters, so a hostile header can never put an unbounded value into exported telemetry.
"""

from __future__ import annotations

import re

from opentelemetry.trace import Span, Status, StatusCode
from yarl import URL

from ..privacy import PrivacyPolicy, current_policy
from ..privacy.exceptions import already_recorded

MAX_LENGTH = 256
MAX_URL_LENGTH = 2048
MAX_MESSAGE_LENGTH = 1024
MAX_STACK_LENGTH = 8192

KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_NOT_SPACE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ELLIPSIS = "…"


def bounded(value: object, limit: int = MAX_LENGTH, *, multiline: bool = False) -> str:
    """``value`` as text of at most ``limit`` characters, control characters replaced
    (``multiline`` keeps tabs and line breaks, for stack traces).

        bounded("a" * 1000, 8)  # 'aaaaaaa…'
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        text = text[: limit - 1] + _ELLIPSIS
    return (_CONTROL_NOT_SPACE if multiline else _CONTROL).sub("\ufffd", text)


def method_attributes(method: str) -> dict[str, str]:
    """``http.request.method``; unknown methods become ``_OTHER`` as the conventions say."""
    upper = method.upper()
    if upper in KNOWN_METHODS:
        return {"http.request.method": upper}
    return {"http.request.method": "_OTHER", "http.request.method_original": bounded(method)}


def span_method(attributes: dict[str, str]) -> str:
    method = attributes["http.request.method"]
    return "HTTP" if method == "_OTHER" else method


def host_and_port(host: str, default_port: int | None) -> tuple[str, int | None]:
    """Split a ``Host`` header value (``name``, ``name:port``, ``[v6]:port``)."""
    name, port_text = host, ""
    if host.startswith("["):
        end = host.find("]")
        if end != -1:
            name, port_text = host[1:end], host[end + 1 :].removeprefix(":")
    elif host.count(":") == 1:
        name, port_text = host.split(":")
    port = int(port_text) if port_text.isdigit() and len(port_text) <= 5 else default_port
    return bounded(name), port


def default_port(scheme: str) -> int | None:
    return {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme.lower())


def full_url(url: URL) -> str:
    """``url.full`` without credentials, query or fragment (they may hold secrets), and
    with its path as the policy records paths (``PrivacyPolicy.url_path``): a Bot Connector
    path's conversation id as conversation ids are recorded (an SMS or WhatsApp
    conversation is named after the user's phone number), a member's id pseudonymous, and
    a segment holding an email, a phone number or a name left out."""
    policy = current_policy()
    try:
        clean = url.with_user(None).with_query(None).with_fragment(None)
        text = str(clean)
        raw = clean.raw_path
        if raw and text.endswith(raw):
            text = text[: len(text) - len(raw)] + policy.url_path(raw)
        else:
            text = policy.url(text)
        return bounded(text, MAX_URL_LENGTH)
    except (ValueError, TypeError):
        return bounded(policy.url_path(url.raw_path), MAX_URL_LENGTH)


def record_error(span: Span, error: BaseException, privacy: PrivacyPolicy | None = None) -> None:
    """Mark ``span`` failed by ``error``, with a bounded exception event.

    Exception messages can quote request data (a URL with the user's question), so what
    the event and the status say follows the privacy policy (``configure()``'s by default):
    the type and frames only, unless personal data may be logged.
    """
    policy = privacy or current_policy()
    span.set_attribute("error.type", type(error).__qualname__)
    # A bot turn inside this request recorded it already: one error, one exception event.
    if not already_recorded(error):
        details = policy.exception_attributes(error)
        span.add_event(
            "exception",
            {
                key: bounded(value, _LIMITS.get(key, MAX_LENGTH), multiline=True)
                for key, value in details.items()
            },
        )
    span.set_status(
        Status(StatusCode.ERROR, bounded(policy.error_description(error), MAX_MESSAGE_LENGTH))
    )


_LIMITS = {
    "exception.type": MAX_LENGTH,
    "exception.message": MAX_MESSAGE_LENGTH,
    "exception.stacktrace": MAX_STACK_LENGTH,
}
