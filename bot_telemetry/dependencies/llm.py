"""A model call inside a dependency wrapper, described by OpenTelemetry's GenAI conventions.

    client = httpx.AsyncClient(base_url=llm_url, event_hooks=llm_event_hooks())
    recognizer = TelemetryRecognizer(MyLlmRecognizer(client), name="LLM")

The hooks put the trace on each request (``traceparent`` of the wrapper's span) and, when
the request is an OpenAI-compatible chat completion made inside a wrapper
(``TelemetryRecognizer``, ``TelemetryQnA``), describe that call on the wrapper's CLIENT span:
``gen_ai.operation.name`` ``chat``, ``gen_ai.provider.name`` (and the older ``gen_ai.system``
Azure Monitor reads), the requested and the answering model, the token usage, the finish
reasons and the response id; the span is renamed ``chat {model}``. Never the prompt or the
completion: those are the user's words. A streamed answer is not read (its usage comes last).
``record_chat_completion`` does the same for a completion got some other way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from opentelemetry import propagate, trace
from opentelemetry.util.types import AttributeValue

from .. import contract
from ..contract import ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT
from ..correlation.dependency_context import current_dependency_span
from .call import address_of

OPERATION_CHAT: Final = "chat"
#: ``gen_ai.provider.name`` of an OpenAI-compatible endpoint, and of Azure OpenAI's.
PROVIDER_OPENAI: Final = "openai"
PROVIDER_AZURE_OPENAI: Final = "azure.ai.openai"
_AZURE_OPENAI_HOST: Final = ".openai.azure.com"
_CHAT_PATH: Final = "/chat/completions"
_HTTP_STATUS: Final = "http.response.status_code"

_log = logging.getLogger(__name__)

Hook = Callable[[Any], Awaitable[None]]


def llm_event_hooks(provider: str | None = None) -> dict[str, list[Hook]]:
    """httpx ``event_hooks`` for an ``AsyncClient`` that calls an LLM (or that the ``openai``
    package is given as ``http_client``). ``provider`` is ``gen_ai.provider.name``; by
    default ``azure.ai.openai`` for an ``*.openai.azure.com`` host, else ``openai``."""

    async def on_request(request: Any) -> None:
        propagate.inject(request.headers)  # the wrapper's span, current while it calls
        try:
            span = current_dependency_span()
            if span is not None and _is_chat(request.url.path):
                _record_server(span, str(request.url))
                body = _json(request.content)
                record_chat_request(body, provider or _provider(request.url.host), span=span)
        except Exception:  # telemetry must never fail the call
            _log.debug("could not describe a model request", exc_info=True)

    async def on_response(response: Any) -> None:
        try:
            span = current_dependency_span()
            if span is None or not _is_chat(response.request.url.path):
                return
            span.set_attribute(_HTTP_STATUS, response.status_code)
            streamed = "event-stream" in response.headers.get("content-type", "")
            if response.status_code < 400 and not streamed:
                await response.aread()  # kept: the caller's response.json() reads it again
                record_chat_completion(_json(response.content), span=span)
        except Exception:
            _log.debug("could not describe a model response", exc_info=True)

    return {"request": [on_request], "response": [on_response]}


def record_chat_request(
    body: Any, provider: str = PROVIDER_OPENAI, *, span: trace.Span | None = None
) -> None:
    """Describe a chat completions request (its JSON body) on ``span``, by default the
    current dependency span: operation, provider, the model and its settings, the name
    ``chat {model}``. The messages are not read."""
    span = span or current_dependency_span()
    if span is None:
        return
    model = _text(_member(body, "model"))
    found: dict[str, AttributeValue | None] = {
        contract.ATTR_GEN_AI_OPERATION_NAME: OPERATION_CHAT,
        contract.ATTR_GEN_AI_PROVIDER_NAME: provider,
        contract.ATTR_GEN_AI_SYSTEM: provider,
        contract.ATTR_GEN_AI_REQUEST_MODEL: model,
        contract.ATTR_GEN_AI_REQUEST_MAX_TOKENS: _count(
            _member(body, "max_completion_tokens", "max_tokens")
        ),
        contract.ATTR_GEN_AI_REQUEST_TEMPERATURE: _number(_member(body, "temperature")),
    }
    span.set_attributes({key: value for key, value in found.items() if value is not None})
    span.update_name(f"{OPERATION_CHAT} {model}" if model else OPERATION_CHAT)


def record_chat_completion(completion: Any, *, span: trace.Span | None = None) -> None:
    """Describe a chat completion (the response's JSON, or the ``openai`` package's
    ``ChatCompletion``) on ``span``, by default the current dependency span: the model that
    answered, the token usage, the finish reasons and the response id. Not its text."""
    span = span or current_dependency_span()
    if span is None:
        return
    usage = _member(completion, "usage")
    choices = _member(completion, "choices")
    reasons = [
        str(reason)
        for reason in (_member(choice, "finish_reason") for choice in _list(choices))
        if reason is not None
    ]
    found: dict[str, AttributeValue | None] = {
        contract.ATTR_GEN_AI_RESPONSE_ID: _text(_member(completion, "id")),
        contract.ATTR_GEN_AI_RESPONSE_MODEL: _text(_member(completion, "model")),
        contract.ATTR_GEN_AI_RESPONSE_FINISH_REASONS: reasons or None,
        # Chat completions' names, then the Responses API's (also the conventions' own).
        contract.ATTR_GEN_AI_USAGE_INPUT_TOKENS: _count(
            _member(usage, "prompt_tokens", "input_tokens")
        ),
        contract.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS: _count(
            _member(usage, "completion_tokens", "output_tokens")
        ),
    }
    span.set_attributes({key: value for key, value in found.items() if value is not None})


def called_a_model(span: trace.Span) -> bool:
    """Whether a model call was described on ``span`` (its ``gen_ai.operation.name``)."""
    attributes = getattr(span, "attributes", None)
    return isinstance(attributes, Mapping) and contract.ATTR_GEN_AI_OPERATION_NAME in attributes


def _record_server(span: trace.Span, url: str) -> None:
    # Where the request went, unless the wrapper was told (endpoint=): never the URL itself,
    # whose query could hold what the user said.
    attributes = getattr(span, "attributes", None) or {}
    if ATTR_SERVER_ADDRESS not in attributes:
        address, port = address_of(url)
        found = {ATTR_SERVER_ADDRESS: address, ATTR_SERVER_PORT: port}
        span.set_attributes({key: value for key, value in found.items() if value is not None})


def _is_chat(path: str) -> bool:
    # OpenAI's /v1/chat/completions, Azure OpenAI's /openai/deployments/{name}/chat/completions
    return path.rstrip("/").endswith(_CHAT_PATH)


def _provider(host: str) -> str:
    return PROVIDER_AZURE_OPENAI if host.endswith(_AZURE_OPENAI_HOST) else PROVIDER_OPENAI


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None


def _member(value: Any, *names: str) -> Any:
    """The first of ``names`` that ``value`` has: the API's JSON (a dict) or the openai
    package's objects (attributes)."""
    for name in names:
        found = value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)
        if found is not None:
            return found
    return None


def _list(value: Any) -> Sequence[Any]:
    return value if isinstance(value, Sequence) and not isinstance(value, str) else ()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
