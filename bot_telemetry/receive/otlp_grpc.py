"""OTLP/gRPC: the ``Export`` methods of the trace, logs and metrics services (port 4317).

The same export path as OTLP/HTTP, on the official grpcio stack (``grpc.aio``, in the
server's event loop): gRPC inflates ``grpc-encoding: gzip`` and enforces the size limit
on the inflated message; the handlers get the raw request bytes and decode them on a
worker thread (``export.parse``), hand the rows to the store's writer and answer only after
the commit, with partial success for refused items. Refusals map onto the OTLP/gRPC codes:

=====================================  ===================  ===========================
case                                   HTTP                 gRPC
=====================================  ===================  ===========================
undecodable body, bad id               400                  INVALID_ARGUMENT (no retry)
over the size limit                    413                  RESOURCE_EXHAUSTED
writer backed up, store unreachable    503 + Retry-After    UNAVAILABLE + RetryInfo 1 s
store refused the batch                500                  INTERNAL
missing or wrong token                 401                  UNAUTHENTICATED
client over the ingest rate limit      429 + Retry-After    RESOURCE_EXHAUSTED + RetryInfo
=====================================  ===================  ===========================

The rate limit is serve's own per-address bucket (``web.ratelimit``), passed in as ``limit``:
the client's address is the peer's, as HTTP's ``request.remote``, so one client is one client
whichever protocol it exports over.

    server, port = await start_grpc(writer, "127.0.0.1", 4317, max_body=16 << 20)
    ...
    await server.stop(grace=10)      # before the writer closes: in-flight calls finish
"""

from __future__ import annotations

import errno
import hmac
import ipaddress
import logging
import math
import socket
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf import duration_pb2
from google.protobuf.any_pb2 import Any as AnyMessage
from google.rpc import error_details_pb2, status_pb2

from ..privacy import current_policy
from ..store.writer import StoreWriter
from .export import PolicySource, decode_export, export_response, store_export
from .otlp import DEFAULT_GRPC_PORT, OtlpError, Signal

_log = logging.getLogger(__name__)

#: How long a sender refused as busy should wait (RetryInfo), as Retry-After on HTTP.
RETRY_DELAY_SECONDS = 1

#: Full service names, as in opentelemetry-proto's .proto files.
SERVICES: dict[Signal, str] = {
    Signal.TRACES: "opentelemetry.proto.collector.trace.v1.TraceService",
    Signal.LOGS: "opentelemetry.proto.collector.logs.v1.LogsService",
    Signal.METRICS: "opentelemetry.proto.collector.metrics.v1.MetricsService",
}

Context = grpc.aio.ServicerContext[Any, Any]
#: A rate limit: (client address, what it asked for) -> 0.0 to go, else seconds to wait.
Limit = Callable[[str, str], float]
_Request = TypeVar("_Request")
_Response = TypeVar("_Response")


__all__ = ["DEFAULT_GRPC_PORT", "SERVICES", "BearerToken", "export_handlers", "start_grpc"]


def grpc_code(error: OtlpError) -> grpc.StatusCode:
    """The OTLP/gRPC status for a refusal the HTTP receiver answers with ``error.status``."""
    if error.status == 413:
        return grpc.StatusCode.RESOURCE_EXHAUSTED  # without RetryInfo: not retryable
    if error.status == 503:
        return grpc.StatusCode.UNAVAILABLE
    if error.status == 401:
        return grpc.StatusCode.UNAUTHENTICATED
    if 400 <= error.status < 500:
        return grpc.StatusCode.INVALID_ARGUMENT
    return grpc.StatusCode.INTERNAL


def _retry_trailers(
    code: grpc.StatusCode, reason: str, seconds: int = RETRY_DELAY_SECONDS
) -> tuple[tuple[str, bytes], ...]:
    # RetryInfo where each client looks for it: the standard rich status
    # (grpc-status-details-bin) and the bare trailer the Python exporter reads.
    info = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds))
    packed = AnyMessage()
    packed.Pack(info)
    status = status_pb2.Status(code=code.value[0], message=reason, details=[packed])
    return (
        ("grpc-status-details-bin", status.SerializeToString()),
        ("google.rpc.retryinfo-bin", info.SerializeToString()),
    )


async def _abort(context: Context, error: OtlpError) -> NoReturn:
    code = grpc_code(error)
    trailers = _retry_trailers(code, error.reason) if error.status == 503 else ()
    await context.abort(code, error.reason, trailing_metadata=trailers)
    raise AssertionError("context.abort raises")  # for the type checker


def client_address(peer: str) -> str:
    """The address in a gRPC peer (``ipv4:10.0.0.7:5123``, ``ipv6:[::1]:5123``) as aiohttp's
    ``request.remote`` gives it (``10.0.0.7``, ``::1``), so both protocols share a bucket."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]")
    return peer


async def _limit(limit: Limit, context: Context, where: str) -> None:
    """Aborts the call with RESOURCE_EXHAUSTED and RetryInfo when its client is over ``limit``."""
    wait = limit(client_address(context.peer()), where)
    if not wait:
        return
    reason = "too many requests from this client: retry after the RetryInfo delay"
    code = grpc.StatusCode.RESOURCE_EXHAUSTED  # with RetryInfo: retryable, after the delay
    trailers = _retry_trailers(code, reason, max(1, math.ceil(wait)))
    await context.abort(code, reason, trailing_metadata=trailers)


def _handler(
    signal: Signal, writer: StoreWriter, max_body: int, policy: PolicySource, limit: Limit | None
) -> Callable[[bytes, Context], Awaitable[bytes]]:
    where = f"{SERVICES[signal]}/Export"

    async def export(body: bytes, context: Context) -> bytes:
        if limit is not None:
            await _limit(limit, context, where)
        try:
            # gRPC has inflated the message and checked it against max_body already.
            batch = await decode_export(signal, body, "protobuf", None, max_body, policy)
            await store_export(writer, batch, where)
        except OtlpError as error:
            if error.status >= 500:
                _log.warning("%s refused: %s", where, error)
            await _abort(context, error)
        return bytes(export_response(signal, batch).SerializeToString())

    return export


def export_handlers(
    writer: StoreWriter,
    max_body: int,
    policy: PolicySource = current_policy,
    limit: Limit | None = None,
) -> list[grpc.GenericRpcHandler]:
    """The three services' handlers. No (de)serializer: bytes in, bytes out, so decoding
    runs on a worker thread like the HTTP path's, and an undecodable body is our
    INVALID_ARGUMENT with the reason rather than gRPC's UNKNOWN and a logged traceback."""
    return [
        grpc.method_handlers_generic_handler(
            SERVICES[signal],
            {
                "Export": grpc.unary_unary_rpc_method_handler(
                    _handler(signal, writer, max_body, policy, limit)
                )
            },
        )
        for signal in Signal
    ]


class BearerToken(grpc.aio.ServerInterceptor):
    """Refuses calls without ``authorization: Bearer TOKEN`` metadata (UNAUTHENTICATED).
    A refused call still takes from ``limit``, as on HTTP (the limit before the token check):
    a client guessing tokens is held to the rate as well."""

    def __init__(self, token: str, limit: Limit | None = None):
        self._token = token

        async def deny(request: Any, context: Context) -> None:
            if limit is not None:
                await _limit(limit, context, "OTLP/gRPC without the token")
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "missing or wrong token: send the metadata authorization: Bearer TOKEN",
            )

        self._deny: grpc.RpcMethodHandler[Any, Any] = grpc.unary_unary_rpc_method_handler(deny)

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[_Request, _Response] | None]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[_Request, _Response] | None:
        presented = ""
        for key, value in details.invocation_metadata or ():
            if key == "authorization" and isinstance(value, str):  # keys arrive lower-case
                if value[:7].lower() == "bearer ":
                    presented = value[7:].strip()
                break
        # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, not a no).
        if presented and hmac.compare_digest(
            presented.encode(errors="surrogateescape"), self._token.encode()
        ):
            return await continuation(details)
        return self._deny


def server_options(max_body: int) -> list[tuple[str, Any]]:
    return [
        # Checked by gRPC on the message after grpc-encoding is undone (a gzip bomb stops there).
        ("grpc.max_receive_message_length", max_body),
        # gRPC sets SO_REUSEPORT by default: a second collector would bind the same port
        # without error and take half the connections into its own store.
        ("grpc.so_reuseport", 0),
    ]


def _address(host: str, port: int) -> str:
    bare = host.strip("[]")
    return f"[{bare}]:{port}" if ":" in bare else f"{bare}:{port}"


def _refuse_if_taken(host: str, port: int) -> None:
    """OSError when ``host:port`` is taken. grpcio's own bind failure says only "failed to
    bind" (the reason goes to stderr through gRPC's core log), so a plain bind asks first."""
    try:
        family = (
            socket.AF_INET6
            if ipaddress.ip_address(host.strip("[]")).version == 6
            else socket.AF_INET
        )
    except ValueError:
        return  # a host name: leave it to grpcio
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC binds
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as error:
            why = (
                "the address is already in use"
                if error.errno == errno.EADDRINUSE
                else error.strerror or str(error)
            )
            where = _address(host, port)
            raise OSError(f"cannot listen for OTLP/gRPC on {where}: {why}") from error


async def start_grpc(
    writer: StoreWriter,
    host: str,
    port: int,
    *,
    max_body: int,
    token: str | None = None,
    policy: PolicySource = current_policy,
    limit: Limit | None = None,
) -> tuple[grpc.aio.Server, int]:
    """Create, bind and start the gRPC server on the running loop; returns it and its port.
    ``limit`` (serve's ingest rate limit) is asked before each Export."""
    server = grpc.aio.server(
        interceptors=[BearerToken(token, limit)] if token else None,
        options=server_options(max_body),
    )
    server.add_generic_rpc_handlers(export_handlers(writer, max_body, policy, limit))
    if port:
        _refuse_if_taken(host, port)
    address = _address(host, port)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as error:
        raise OSError(f"cannot listen for OTLP/gRPC on {address}: {error}") from error
    await server.start()
    return server, bound
