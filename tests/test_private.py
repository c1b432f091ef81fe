"""Every private API of a dependency that we read (bot_telemetry._private), against the versions
installed: each accessor finds what it expects on the real objects, and nothing else in the
package reads a dependency's private name."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest
from botbuilder.core import ConversationState, MemoryStorage
from botbuilder.dialogs import ComponentDialog, DialogSet, WaterfallDialog
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from bot_telemetry import _private

PACKAGE = Path(_private.__file__).parent
#: Module paths whose only home has an underscore: the logs API and SDK (listed in USES).
UNDERSCORED_HOMES = frozenset({"_logs", "_log_exporter"})


def test_dialog_set_and_component_dialog_children(caplog: pytest.LogCaptureFixture) -> None:
    dialogs = DialogSet(ConversationState(MemoryStorage()).create_property("dialogs"))
    step = WaterfallDialog("steps", [])
    dialogs.add(step)
    component = ComponentDialog("component")
    assert _private.dialog_set_dialogs(dialogs) == [step]
    assert isinstance(_private.component_dialog_set(component), DialogSet)
    assert "not there any more" not in caplog.text


def test_blob_storage_container_client() -> None:
    from botbuilder.azure import BlobStorage, BlobStorageSettings

    storage = BlobStorage(
        BlobStorageSettings(
            container_name="state",
            connection_string=(
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey="
                "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
                "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
            ),
        )
    )
    container = _private.blob_container_client(storage)
    assert container.container_name == "state"
    assert container.account_name == "devstoreaccount1"


async def test_luis_application_and_qna_endpoint() -> None:
    from botbuilder.ai.luis import LuisApplication, LuisRecognizer
    from botbuilder.ai.qna import QnAMaker, QnAMakerEndpoint

    application = LuisApplication(
        "b31aeaf3-3511-495b-a07f-571fc873214b",
        "048ec46dc58e495482b0c447cfdbd291",
        "https://westus.api.cognitive.microsoft.com",
    )
    assert _private.luis_application(LuisRecognizer(application)) is application
    endpoint = QnAMakerEndpoint("kb-id", "endpoint-key", "https://example.azurewebsites.net")
    qna = QnAMaker(endpoint)
    try:
        assert _private.qna_endpoint(qna) is endpoint
    finally:
        await qna.close()


def test_the_agents_sdks_dialogs_blob_storage_and_error_dispatch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from microsoft_agents.hosting.core import (
        AgentApplication,
        AgentAuthConfiguration,
        AnonymousTokenProvider,
        ConnectionManager,
        TurnState,
    )
    from microsoft_agents.hosting.core import (
        ConversationState as AgentsConversationState,
    )
    from microsoft_agents.hosting.core import (
        MemoryStorage as AgentsMemoryStorage,
    )
    from microsoft_agents.hosting.dialogs import ComponentDialog as AgentsComponent
    from microsoft_agents.hosting.dialogs import DialogSet as AgentsDialogSet
    from microsoft_agents.hosting.dialogs import WaterfallDialog as AgentsWaterfall
    from microsoft_agents.storage.blob import BlobStorage, BlobStorageConfig

    state = AgentsConversationState(AgentsMemoryStorage())
    dialogs = AgentsDialogSet(state.create_property("dialogs"))
    step = AgentsWaterfall("steps", [])
    dialogs.add(step)
    assert _private.dialog_set_dialogs(dialogs) == [step]
    assert isinstance(_private.component_dialog_set(AgentsComponent("c")), AgentsDialogSet)

    blob = BlobStorage(
        BlobStorageConfig(
            container_name="state",
            connection_string=(
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey="
                "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
                "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
            ),
        )
    )
    container = _private.blob_container_client(blob)
    assert (container.container_name, container.account_name) == ("state", "devstoreaccount1")

    connections = ConnectionManager(
        provider_factory=lambda _config: AnonymousTokenProvider(),
        connections_configurations={
            "SERVICE_CONNECTION": AgentAuthConfiguration(anonymous_allowed=True)
        },
    )
    app = AgentApplication[TurnState](storage=AgentsMemoryStorage(), connection_manager=connections)
    dispatch = _private.application_error_dispatch(app)
    assert callable(dispatch) and dispatch.__func__ is AgentApplication._on_error
    replacement = object()
    _private.replace_application_error_dispatch(app, replacement)
    assert _private.application_error_dispatch(app) is replacement
    other = AgentApplication[TurnState](
        storage=AgentsMemoryStorage(), connection_manager=connections
    )
    assert _private.application_error_dispatch(other) is not replacement, "one instance only"
    assert "not there any more" not in caplog.text


def test_azure_monitor_exporter_transmit_handler(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from azure.monitor.opentelemetry.exporter import AzureMonitorTraceExporter

    exporter = AzureMonitorTraceExporter(
        connection_string="InstrumentationKey=00000000-0000-0000-0000-000000000000;"
        "IngestionEndpoint=http://127.0.0.1:9/",
        storage_directory=str(tmp_path),
    )
    handler = _private.azure_transmit_handler(exporter)
    assert callable(handler) and handler.__func__.__name__ == "_handle_transmit_from_storage"
    assert callable(exporter.storage.put)  # public: what OfflineStorageWatch also wraps
    assert callable(exporter.client.track)  # public too: the watch reads a 206's errors
    replacement = object()
    _private.replace_azure_transmit_handler(exporter, replacement)
    assert _private.azure_transmit_handler(exporter) is replacement
    assert "not there any more" not in caplog.text
    exporter.shutdown()


@pytest.mark.parametrize("kind", [OTLPSpanExporter, OTLPLogExporter])
def test_otlp_http_exporter_client(kind: type) -> None:
    exporter = kind(endpoint="http://127.0.0.1:9/v1/x", timeout=1)
    assert callable(_private.otlp_http_client(exporter).export)
    assert callable(_private.otlp_http_transport(_private.otlp_http_client(exporter)).request)
    assert _private.otlp_http_is_shut_down(exporter) is False
    assert _private.otlp_http_max_request_size(exporter) >= 0
    exporter.shutdown()
    assert _private.otlp_http_is_shut_down(exporter) is True


@pytest.mark.parametrize("signal", ["trace", "log"])
def test_otlp_grpc_exporter_stub_and_client(signal: str, caplog: pytest.LogCaptureFixture) -> None:
    if signal == "trace":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as kind
    else:
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as kind
    exporter = kind(endpoint="http://127.0.0.1:9", insecure=True, timeout=1)
    stub, client = _private.otlp_grpc_stub(exporter), _private.otlp_grpc_client(exporter)
    assert isinstance(client, stub) and callable(client.Export)
    made: list[object] = []

    def factory(channel: object) -> object:
        made.append(channel)
        return client

    _private.replace_otlp_grpc_stub(exporter, factory, client)
    exporter._initialize_channel_and_stub()  # what the exporter does after UNAVAILABLE
    assert made == [exporter._channel] and _private.otlp_grpc_client(exporter) is client
    assert "not there any more" not in caplog.text
    exporter.shutdown()


async def test_httpcore_connect_retries_left_from_its_trace_hook() -> None:
    import httpcore

    from tests.support.ports import free_port

    seen: list[int | None] = []

    async def trace(event: str, info: dict[str, object]) -> None:
        if event == "connection.connect_tcp.failed":
            seen.append(_private.httpcore_connect_retries_left(0))

    async with httpcore.AsyncConnectionPool(retries=1) as pool:
        with pytest.raises(httpcore.ConnectError):  # nobody listens there
            await pool.request(
                "GET", f"http://127.0.0.1:{free_port()}/", extensions={"trace": trace}
            )
    assert seen == [1, 0]  # the first connect is retried once, the second is the last
    assert _private.httpcore_connect_retries_left(0) is None  # not under httpcore's connect


def test_a_change_is_one_warning_and_no_failure(caplog: pytest.LogCaptureFixture) -> None:
    class Changed:
        pass

    with caplog.at_level(logging.WARNING, "bot_telemetry"):
        assert _private.dialog_set_dialogs(Changed()) == []
        assert _private.dialog_set_dialogs(Changed()) == []
    warnings = [r for r in caplog.records if "DialogSet._dialogs" in r.getMessage()]
    assert len(warnings) == 1


def _private_reads(path: Path) -> list[str]:
    """Places where a module reads a name with a leading underscore from another library."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # A module's own private names (its functions, methods and self._attributes) are its own.
    own = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    own |= {
        n.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self"
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = [p for p in node.module.split(".") if p.startswith("_") and p != "__future__"]
            names = [
                a.name
                for a in node.names
                if a.name.startswith("_") and a.name not in UNDERSCORED_HOMES
            ]
            if set(parts) - UNDERSCORED_HOMES or names:
                found.append(f"{path.name}:{node.lineno} from {node.module} import {names}")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            if not node.attr.startswith("__") and node.attr not in own:
                found.append(f"{path.name}:{node.lineno} .{node.attr}")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr":
            name = node.args[1] if len(node.args) > 1 else None
            text = str(name.value) if isinstance(name, ast.Constant) else ""
            if text.startswith("_") and not text.startswith("__"):
                found.append(f"{path.name}:{node.lineno} getattr(..., {name.value!r})")
    return found


def test_no_other_module_reads_a_private_name() -> None:
    reads = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name != "_private.py" and "__pycache__" not in path.parts:
            reads.extend(_private_reads(path))
    assert reads == []


@pytest.mark.parametrize(
    "source",
    [
        "from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY\n",
        "def f(storage):\n    return storage._BlobStorage__container_client\n",
        "def f(recognizer):\n    return getattr(recognizer, '_application', None)\n",
    ],
)
def test_the_check_sees_a_private_read(source: str, tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(source, encoding="utf-8")
    assert _private_reads(planted)
