"""A model call, described by OpenTelemetry's GenAI conventions.

    client = httpx.AsyncClient(base_url=llm_url, event_hooks=llm_event_hooks())
    recognizer = TelemetryRecognizer(MyLlmRecognizer(client), name="LLM")

The hooks put the trace on each request and describe each OpenAI-compatible model call
(chat completions, the Responses API, embeddings): ``gen_ai.operation.name`` (``chat``,
``embeddings``), ``gen_ai.provider.name`` (and the older ``gen_ai.system`` Azure Monitor
reads), the requested and the answering model, the token usage, the finish reasons and the
response id; the span is named ``{operation} {model}``. Made inside a wrapper
(``TelemetryRecognizer``, ``TelemetryQnA``) the call is described on the wrapper's CLIENT span;
made anywhere else it is a dependency call of its own (``dependency_call``, component ``LLM``),
from the request to the end of its answer. A streamed answer (server-sent events) is read as
the bot reads it (``llm_stream``). Never the prompt or the completion: those are the user's
words. ``record_chat_completion`` describes a completion got some other way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.util.types import AttributeValue

from .. import contract
from .._private import httpcore_connect_retries_left
from ..contract import ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT
from ..correlation.dependency_context import current_dependency_span
from ..correlation.outgoing import peer_service
from .call import DependencyCall, DependencyScope, Target, address_of, dependency_call

OPERATION_CHAT: Final = "chat"
OPERATION_EMBEDDINGS: Final = "embeddings"
#: ``bot.dependency.component`` of a model call made outside the wrappers.
COMPONENT: Final = "LLM"
#: ``gen_ai.provider.name`` of an OpenAI-compatible endpoint, and of Azure OpenAI's.
PROVIDER_OPENAI: Final = "openai"
PROVIDER_AZURE_OPENAI: Final = "azure.ai.openai"
_AZURE_OPENAI_HOST: Final = ".openai.azure.com"
#: The operation of a POST, by the end of its path: OpenAI's ``/v1/...``, Azure OpenAI's
#: ``/openai/deployments/{name}/...`` and ``/openai/v1/...``.
_OPERATIONS: Final = (
    ("/chat/completions", OPERATION_CHAT),
    ("/responses", OPERATION_CHAT),
    ("/embeddings", OPERATION_EMBEDDINGS),
)
#: Azure OpenAI's deployment in a path: the model asked for when the body names none.
_DEPLOYMENT: Final = re.compile(r"/openai/deployments/([^/]+)/")
_HTTP_STATUS: Final = "http.response.status_code"
#: Where a request keeps the model call its hooks opened (``request.extensions``).
_CALL: Final = "bot_telemetry.model_call"
#: httpcore's trace extension: how a request that got no response is seen to fail.
_TRACE: Final = "trace"
#: Its events for a failed connect, which the transport may retry (``retries=n``).
_CONNECT_FAILED: Final = ("connection.connect_tcp.failed", "connection.connect_unix_socket.failed")
#: The result code of a call whose streamed answer was dropped unread and unclosed, and of
#: one whose request was dropped with no response seen (a failure the hooks cannot see: a
#: pool timeout, a transport that does not call the trace extension).
NOT_READ: Final = "NotReadToEnd"
NO_RESPONSE: Final = "NoResponse"
_NOT_READ_WHY: Final = "the answer was not read to the end: the response was dropped unclosed"
_NO_RESPONSE_WHY: Final = "no response was seen: the request failed where its hooks cannot see"

_log = logging.getLogger(__name__)

Hook = Callable[[Any], Awaitable[None]]


def llm_event_hooks(
    provider: str | None = None, *, name: str | None = None
) -> dict[str, list[Hook]]:
    """httpx ``event_hooks`` for an ``AsyncClient`` that calls an LLM (or that the ``openai``
    package is given as ``http_client``). ``provider`` is ``gen_ai.provider.name``; by
    default ``azure.ai.openai`` for an ``*.openai.azure.com`` host, else ``openai``. ``name``
    is the app map's node (``peer.service``) of a call made outside the wrappers; by default
    the name ``instrument_aiohttp_client`` gave its address, else its host."""

    async def on_request(request: Any) -> None:
        call = None
        try:
            operation = _operation(request)
            if operation is not None:
                call = await _describe_request(request, operation, provider, name)
        except Exception:  # telemetry must never fail the call
            _log.debug("could not describe a model request", exc_info=True)
        # The call's own span, else the wrapper's (current while it calls), with the baggage.
        current = otel_context.get_current()
        if call is not None:
            current = trace.set_span_in_context(call.span, current)
        propagate.inject(request.headers, context=current)

    async def on_response(response: Any) -> None:
        request = response.request
        call: _ModelCall | None = request.extensions.get(_CALL)
        streamed = False
        try:
            span = call.span if call is not None else current_dependency_span()
            if span is None or _operation(request) is None:
                return
            span.set_attribute(_HTTP_STATUS, response.status_code)
            if response.status_code >= 400:
                if call is not None:
                    call.call.set_failed(response.status_code)
                return
            if "event-stream" in response.headers.get("content-type", ""):
                from .llm_stream import observe_stream

                if call is not None:
                    call.responded = True
                events = _StreamedAnswer(span)
                observe_stream(response, events.read, call.end if call is not None else None)
                streamed = True
            else:
                await response.aread()  # kept: the caller's response.json() reads it again
                record_chat_completion(_json(response.content), span=span)
        except Exception:
            _log.debug("could not describe a model response", exc_info=True)
        finally:
            if call is not None and not streamed:
                await call.end(None)

    return {"request": [on_request], "response": [on_response]}


async def _describe_request(
    request: Any, operation: str, provider: str | None, name: str | None
) -> _ModelCall | None:
    """Describe the request on the wrapper's span, or open its own call; that call."""
    body = _json(request.content)
    provider = provider or _provider(request.url.host)
    model = _text(_member(body, "model")) or _deployment(request.url.path)
    span = current_dependency_span()
    call = None
    if span is None:
        call = await _ModelCall.open(request, _span_name(operation, model), name)
        span = call.span
    _record_server(span, str(request.url))
    record_chat_request(body, provider, span=span, operation=operation, model=model)
    return call


class _ModelCall:
    """A model call made outside the wrappers: ``dependency_call``'s call, opened by the
    request hook and ended by the response (its hook, or its stream's end), or by the
    transport's failure when no response came; else, failed, when its request is
    garbage-collected (the bot dropped a stream unread and unclosed, or it failed unseen)."""

    def __init__(self, scope: DependencyScope, call: DependencyCall) -> None:
        self._scope = scope
        self.call = call
        self.span = call.span
        self._open = True
        #: Whether a streamed answer came: what a dropped request means.
        self.responded = False
        self._dropped: weakref.finalize[Any, Any] | None = None

    @classmethod
    async def open(cls, request: Any, span_name: str, name: str | None) -> _ModelCall:
        url = str(request.url)
        address, port = address_of(url)
        node = name or peer_service(address, port) or address or COMPONENT
        target = Target(node, address, port)
        # Not made current: the caller's own code runs between the hooks.
        scope = dependency_call(span_name, target, component=COMPONENT, current=False)
        model_call = cls(scope, await scope.__aenter__())
        request.extensions[_CALL] = model_call
        previous = request.extensions.get(_TRACE)
        # Weak: the request keeps this hook, and its finalizer must see it freed.
        dropped = weakref.ref(request)

        async def on_trace(event: str, info: dict[str, Any]) -> None:
            if previous is not None:
                await previous(event, info)
            if not event.endswith(".failed"):
                return
            error = info.get("exception")
            if isinstance(error, GeneratorExit):  # asyncio closing a reader the bot dropped
                model_call.abandon()
            elif event in _CONNECT_FAILED and _retried(error):
                return  # the call ends by the retry's outcome
            else:  # no response will come (or no more of it)
                await model_call.end(_as_httpx_error(error, dropped()))

        request.extensions[_TRACE] = on_trace
        loop = asyncio.get_running_loop()
        model_call._dropped = weakref.finalize(request, _ended_on_loop, model_call, loop)
        return model_call

    async def end(self, error: BaseException | None) -> None:
        if not self._open:
            return
        self._open = False
        if self._dropped is not None:
            self._dropped.detach()
        try:
            await self._scope.__aexit__(type(error) if error is not None else None, error, None)
        except Exception:
            _log.debug("could not end a model call", exc_info=True)

    def abandon(self) -> None:
        """End the call, failed, outside its turn (no trace activity): the bot dropped it."""
        if not self._open:
            return
        self._open = False
        if self._dropped is not None:
            self._dropped.detach()
        if self.responded:
            self.call.set_failed(NOT_READ, _NOT_READ_WHY)
        else:
            self.call.set_failed(NO_RESPONSE, _NO_RESPONSE_WHY)
        try:
            self._scope.end_unreported()
        except Exception:
            _log.debug("could not end a model call", exc_info=True)


def _ended_on_loop(call: _ModelCall, loop: asyncio.AbstractEventLoop) -> None:
    """A request's finalizer: abandon its call, if still open, on its loop. Not here: the
    garbage collector may run inside code holding a lock the span's end takes."""
    try:
        loop.call_soon_threadsafe(call.abandon)
    except RuntimeError:  # the loop is closed
        call.abandon()


def _retried(error: Any) -> bool:
    """Whether httpcore will retry the connect that just failed: a transport with retries
    (``AsyncHTTPTransport(retries=n)``) and some left, as its connection's ``_connect``, up
    the stack from its trace hook, counts them. Not found (another transport, another
    httpcore): not retried, the call ends by this failure as before."""
    if type(error).__name__ not in ("ConnectError", "ConnectTimeout"):
        return False  # the only failures httpcore retries
    left = httpcore_connect_retries_left(1)  # from this function's caller, the hook
    return left is not None and left > 0


def _as_httpx_error(error: Any, request: Any) -> BaseException | None:
    """What httpx will raise for httpcore's ``error``: its exception of the same name."""
    import httpx  # the hooks are httpx's: it is there

    kind = getattr(httpx, type(error).__name__, None)
    if (
        type(error).__module__.startswith("httpcore")
        and isinstance(kind, type)
        and issubclass(kind, httpx.RequestError)
        and request is not None
    ):
        return kind(str(error), request=request)
    return error if isinstance(error, BaseException) else None


class _StreamedAnswer:
    """What a streamed answer's events say about the call, put on ``span`` as they come:
    a chat completion's chunks (the finish reasons by choice, the usage last when asked
    for), or the Responses API's events (the response they carry)."""

    def __init__(self, span: trace.Span) -> None:
        self._span = span
        self._reasons: dict[int, str] = {}

    def read(self, event: Any) -> None:
        if not self._span.is_recording():  # read after its wrapper's call ended
            return
        response = _member(event, "response")
        if isinstance(_member(event, "type"), str) and isinstance(response, Mapping):
            record_chat_completion(response, span=self._span)
            return
        for number, choice in enumerate(_list(_member(event, "choices"))):
            reason = _member(choice, "finish_reason")
            if reason is not None:
                index = _member(choice, "index")
                self._reasons[index if isinstance(index, int) else number] = str(reason)
        found = {
            "id": _member(event, "id"),
            "model": _member(event, "model"),
            "usage": _member(event, "usage"),
            "choices": [{"finish_reason": self._reasons[i]} for i in sorted(self._reasons)],
        }
        record_chat_completion(found, span=self._span)


def record_chat_request(
    body: Any,
    provider: str = PROVIDER_OPENAI,
    *,
    span: trace.Span | None = None,
    operation: str = OPERATION_CHAT,
    model: str | None = None,
) -> None:
    """Describe a model request (its JSON body) on ``span``, by default the current
    dependency span: operation, provider, the model and its settings, the name
    ``{operation} {model}``. ``model`` is the one asked for when the body names none (an
    Azure OpenAI deployment). The messages (the input) are not read."""
    span = span or current_dependency_span()
    if span is None:
        return
    model = _text(_member(body, "model")) or model
    found: dict[str, AttributeValue | None] = {
        contract.ATTR_GEN_AI_OPERATION_NAME: operation,
        contract.ATTR_GEN_AI_PROVIDER_NAME: provider,
        contract.ATTR_GEN_AI_SYSTEM: provider,
        contract.ATTR_GEN_AI_REQUEST_MODEL: model,
        contract.ATTR_GEN_AI_REQUEST_MAX_TOKENS: _count(
            _member(body, "max_completion_tokens", "max_tokens", "max_output_tokens")
        ),
        contract.ATTR_GEN_AI_REQUEST_TEMPERATURE: _number(_member(body, "temperature")),
    }
    span.set_attributes({key: value for key, value in found.items() if value is not None})
    span.update_name(_span_name(operation, model))


def record_chat_completion(completion: Any, *, span: trace.Span | None = None) -> None:
    """Describe a model's answer (a chat completion, a Responses API response or embeddings:
    the response's JSON, or the ``openai`` package's objects) on ``span``, by default the
    current dependency span: the model that answered, the token usage, the finish reasons
    and the response id. Not its text."""
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


def _operation(request: Any) -> str | None:
    """The model operation a request is, if it is one."""
    if request.method != "POST":
        return None
    path = request.url.path.rstrip("/")
    for ending, operation in _OPERATIONS:
        if path.endswith(ending):
            return operation
    return None


def _span_name(operation: str, model: str | None) -> str:
    return f"{operation} {model}" if model else operation


def _deployment(path: str) -> str | None:
    """The Azure OpenAI deployment a request's path names (``/openai/deployments/{name}/``)."""
    found = _DEPLOYMENT.search(path)
    return found.group(1) if found else None


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
