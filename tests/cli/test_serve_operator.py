"""``bot-telemetry serve`` as an operator runs it: real processes, their start-up errors and
their refusals. The bad settings, refused before anything starts, are read by ``main()`` in
this process (the journal in use and the port in use are the start-up errors of a process)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest

from bot_telemetry.store.database import Store
from tests.support.otlp_messages import spans_request
from tests.support.ports import free_port
from tests.support.processes import REPO, run_cli_here, running


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot_telemetry.cli", "serve", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line_error(
    result: subprocess.CompletedProcess[str], message: str, status: int
) -> None:
    assert result.returncode == status, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("bot-telemetry: error: ") and message in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "--port 70000 is not a TCP port"),
        (["--port", "-1"], "--port -1 is not a TCP port"),
        (["--grpc-port", "65536"], "--grpc-port 65536 is not a TCP port"),
        (["--max-body-mb", "0"], "--max-body-mb must be more than 0"),
        (["--max-body-mb", "-1"], "--max-body-mb must be more than 0"),
        # 0 is the internal "no retention": it kept everything without a word.
        (["--retention", "0d"], "leave --retention out to keep everything"),
        (["--retention", "0h"], "leave --retention out to keep everything"),
        # serve started, and every download link it signed had expired when it was read
        (["--exhaust-link-expiry", "0m"], "a link that expires at once cannot be used"),
        # It was ignored: only a ClickHouse store has tables to create.
        (["--create-schema"], "--create-schema applies to a ClickHouse store"),
        (["--public-url", "telemetry.example.com"], "is not scheme://host[:port]"),
        (["--public-url", "https://example.com/telemetry"], "not under a path"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    assert_one_line_error(run_cli_here("serve", "--store", str(tmp_path / "s"), *args), message, 2)
    assert not (tmp_path / "s").exists()


def test_a_journal_in_use_by_another_serve_is_one_line_and_exit_1(tmp_path: Path) -> None:
    journal, port = tmp_path / "jshared", free_port()
    first = ["-m", "bot_telemetry.cli", "serve", "--store", str(tmp_path / "a"), "--no-grpc"]
    first += ["--port", str(port), "--client-journal", str(journal)]
    with running(first, ready_url=f"http://127.0.0.1:{port}/api/health"):
        second = serve(
            "--store", str(tmp_path / "b"), "--no-grpc", "--port", str(free_port()),
            "--client-journal", str(journal),
        )  # fmt: skip
    assert_one_line_error(second, "is in use by another process", 1)


TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _grpc_at(port: int) -> grpc.RpcError:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        export = channel.unary_unary(TRACES)
        with pytest.raises(grpc.RpcError) as refused:
            export(spans_request([{}]).SerializeToString(), timeout=10)
    return refused.value


def _post(url: str, body: bytes, content_type: str) -> tuple[int, str, dict[str, object]]:
    request = urllib.request.Request(url, body, {"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = response
            return answer.status, answer.headers.get_content_type(), json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_content_type(), json.loads(error.read())


def test_read_only_refuses_ingest_and_exhausts_with_a_reason_and_writes_nothing(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "store"
    Store.open(folder / "telemetry.duckdb").close()
    before = sorted(p.name for p in folder.iterdir())
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["-m", "bot_telemetry.cli", "serve", "--store", str(folder), "--port", str(port)]
    with running([*args, "--read-only"], ready_url=f"{url}/api/health") as process:
        protobuf = spans_request([{}]).SerializeToString()
        for path in ("/v1/traces", "/v1/logs", "/v1/metrics"):
            status, kind, answer = _post(url + path, protobuf, "application/x-protobuf")
            assert (status, kind) == (403, "application/json"), (path, answer)
            assert "read-only" in str(answer["message"])
        for path, body in (
            ("/v1/telemetry", b'{"events": []}'),
            ("/dataset/v1/request/submit", b'{"request": {}}'),
            ("/api/exhaust/run", b""),
        ):
            status, kind, answer = _post(url + path, body, "application/json")
            assert (status, kind) == (403, "application/json"), (path, answer)
            assert "read-only" in str(answer["error"])
        refused = _grpc_at(port)
        assert refused.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "read-only" in str(refused.details())
        assert process.stop() == 0, process.output()
    assert sorted(p.name for p in folder.iterdir()) == before


def test_no_grpc_tells_a_grpc_client_at_the_http_port_that_it_serves_none(
    tmp_path: Path,
) -> None:
    port = free_port()
    args = ["-m", "bot_telemetry.cli", "serve", "--store", str(tmp_path), "--port", str(port)]
    with running([*args, "--no-grpc"], ready_url=f"http://127.0.0.1:{port}/api/health"):
        refused = _grpc_at(port)
    assert refused.code() == grpc.StatusCode.UNIMPLEMENTED
    details = str(refused.details())
    assert "runs no OTLP/gRPC" in details and "4317" not in details, details


def test_max_body_mb_covers_otlp_and_client_telemetry_keeps_5_mib(tmp_path: Path) -> None:
    help_text = " ".join(serve("--help").stdout.split())
    assert "Client telemetry (/v1/telemetry) keeps Sunbird's own limit of 5 MiB" in help_text
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["-m", "bot_telemetry.cli", "serve", "--store", str(tmp_path), "--port", str(port)]
    with running(
        [*args, "--no-grpc", "--max-body-mb", "1"], ready_url=f"{url}/api/health"
    ) as process:
        # Among the start-up lines: where jobs and link keys are kept (with a ClickHouse
        # store the default is under the working directory, which nothing said).
        assert f"data exhaust folder {tmp_path.resolve() / 'exhaust'}  " in process.output()
        # Each a line of its own: the address, what it receives and the store were one line
        # of 200 columns.
        started = process.output().splitlines()[:4]
        assert started[0] == f"bot-telemetry collector on {url}  (web UI {url}/)", started
        assert started[1].startswith("  receives OTLP/HTTP /v1/traces /v1/logs /v1/metrics, ")
        assert started[2] == f"  store {tmp_path / 'telemetry.duckdb'}", started
        assert max(len(line) for line in started[:2]) <= 120, started
        two_mib = b'{"events": [], "pad": "' + b"x" * (2 << 20) + b'"}'
        assert _post(url + "/v1/traces", two_mib, "application/json")[0] == 413
        assert _post(url + "/v1/telemetry", two_mib, "application/json")[0] != 413
        six_mib = b'{"events": [], "pad": "' + b"x" * (6 << 20) + b'"}'
        status, _, answer = _post(url + "/v1/telemetry", six_mib, "application/json")
        assert status == 413 and str(5 << 20) in json.dumps(answer), answer


def test_a_port_in_use_says_how_to_choose_another(tmp_path: Path) -> None:
    """It said "[Errno 98] error while attempting to bind on address ('127.0.0.1', N):
    address already in use"."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve("--store", str(tmp_path / "s"), "--port", str(port), "--no-grpc")
    assert_one_line_error(
        result,
        f"127.0.0.1:{port} is in use (another serve, an OpenTelemetry Collector?): give "
        "another --port, or --port 0 to pick a free one",
        1,
    )
