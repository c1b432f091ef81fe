"""``POST /v1/telemetry`` on a real ``bot-telemetry serve`` (in-process, real HTTP): what is
stored, what is refused, repeats, retries, header context, concurrent senders, CORS, tokens,
and the client events in the conversation and trace views."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry import contract
from bot_telemetry.privacy import PrivacyPolicy
from bot_telemetry.receive.sunbird.http import _answer
from bot_telemetry.receive.sunbird.ingest import INLINE_BYTES
from bot_telemetry.store.database import Store
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.collector.scenario import run_conversation
from tests.receive.sunbird.events import EIDS, bundle, event
from tests.support.ports import free_port
from tests.support.processes import REPO, run_cli_here, running

PAGE = "http://127.0.0.1:5999"


def post(
    url: str,
    body: Any,
    headers: dict[str, str] | None = None,
    *,
    raw: bytes | None = None,
    method: str = "POST",
) -> tuple[int, dict[str, Any], dict[str, str]]:
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{url}/v1/telemetry",
        data=data if method == "POST" else None,
        headers={"Content-Type": "application/json", **(headers or {})},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else {}, dict(response.headers)
    except urllib.error.HTTPError as error:
        text = error.read()
        return error.code, json.loads(text) if text else {}, dict(error.headers)


def get(url: str, path: str) -> Any:
    with urllib.request.urlopen(f"{url}{path}", timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[CollectorThread]:
    config = ServerConfig(store=tmp_path / "store.duckdb", port=0, cors_origins=(PAGE,))
    with CollectorThread(config) as running:
        yield running


def stored_events(url: str, **query: str) -> list[dict[str, Any]]:
    search = "&".join(f"{key}={value}" for key, value in {"limit": "1000", **query}.items())
    found: list[dict[str, Any]] = get(url, f"/api/client-events?{search}")
    return found


def test_every_eid_is_stored_as_an_event_named_by_it(served: CollectorThread) -> None:
    events = [event(eid) for eid in EIDS]
    status, answer, _ = post(served.url, bundle(events))
    assert status == 200, answer
    assert answer["id"] == "api.telemetry" and answer["responseCode"] == "SUCCESS"
    assert answer["params"]["status"] == "successful"
    assert answer["result"] == {
        "received": len(EIDS),
        "stored": len(EIDS),
        "duplicates": 0,
        "failed": 0,
        "repeatedBundle": False,
        "failures": [],
    }
    found = {e["eid"]: e for e in stored_events(served.url)}
    assert set(found) == set(EIDS)
    # The general event list (every event view) sees them too, by eid.
    names = {e["name"] for e in get(served.url, "/api/events?limit=1000")}
    assert set(EIDS) <= names
    interact = found["INTERACT"]
    assert interact["conversation_id"] == "conv-1"
    assert interact["service"] == "webchat"
    assert interact["label"] == "INTERACT CLICK imBack suggested-action"
    props = interact["properties"]
    assert props["sunbird.edata.target.parent.id"] == "p"
    assert props["sunbird.context.pdata.pid"] == "sample-bot-webchat"
    assert props["sunbird.cdata.Conversation"] == "conv-1"
    assert props["sunbird.tags"] == ["demo"]
    assert props["conversationId"] == "conv-1"
    assert props["session.id"] == "session-1"
    assert props["sunbird.session.source"] == "client"
    # Ids pseudonymised with the bot's key; free text dropped under the default policy.
    policy = PrivacyPolicy()
    assert props["sunbird.actor.id"] == policy.pseudonymize("user-1") == props["fromId"]
    assert props["sunbird.context.did"] == policy.pseudonymize("device-1")
    assert "user-1" not in json.dumps(props) and "device-1" not in json.dumps(props)
    assert "sunbird.edata.extra.value" not in props
    assert "sunbird.edata.commenttxt" not in found["FEEDBACK"]["properties"]
    assert found["FEEDBACK"]["properties"]["sunbird.edata.rating"] == 5
    assert "sunbird.edata.query" not in found["SEARCH"]["properties"]
    assert props["sunbird.syncts"] >= props["sunbird.ets"] - 60_000
    assert props["sunbird.@timestamp"].endswith("Z")


def test_invalid_events_are_kept_in_the_failed_set_beside_valid_ones(
    served: CollectorThread,
) -> None:
    good = event("START")
    no_mid = event("IMPRESSION")
    del no_mid["mid"]
    wrong_ver = event("INTERACT", ver="2.1")
    extra = event("FEEDBACK")
    extra["edata"]["colour"] = "red"
    wrong_type = event("END", ets="yesterday")
    status, answer, _ = post(served.url, bundle([good, no_mid, wrong_ver, extra, wrong_type, 7]))
    assert status == 200
    assert answer["responseCode"] == "SUCCESS" and answer["params"]["status"] == "partial"
    assert answer["params"]["err"] == "INVALID_EVENTS"
    result = answer["result"]
    assert (result["received"], result["stored"], result["failed"]) == (6, 1, 5)
    reasons = {f["index"]: (f["field"], f["expected"]) for f in result["failures"]}
    assert reasons[1] == ("mid", "a non-empty string (required)")
    assert reasons[2] == ("ver", 'one of "3.0", "3.1"')
    assert reasons[3][0] == "edata.colour" and reasons[3][1].startswith("no such field")
    assert reasons[4][0] == "ets"
    assert reasons[5] == ("event", "an event object")
    failed = get(served.url, "/api/client-events?failed=true")
    assert len(failed) == 5
    by_field = {f["field"]: f for f in failed}
    assert by_field["ver"]["eid"] == "INTERACT"
    assert by_field["ver"]["event"]["edata"]["id"] == "suggested-action"
    # The kept event is pseudonymised and without free text.
    assert by_field["ver"]["event"]["actor"]["id"] == PrivacyPolicy().pseudonymize("user-1")
    assert "extra" not in by_field["ver"]["event"]["edata"]
    # Failed events are not events: event views do not list them.
    assert [e["eid"] for e in stored_events(served.url)] == ["START"]
    # Sending the same bad event again keeps it once.
    post(served.url, bundle([wrong_ver], msgid="another"))
    assert len(get(served.url, "/api/client-events?failed=true")) == 5
    stats = get(served.url, "/api/client-events/stats")
    assert stats["stored"] == {"START": 1} and stats["failed"] == 5


def test_an_answer_listing_a_lone_surrogate_is_json() -> None:
    # A JavaScript string cut in the middle of an emoji, in a listed failure: orjson refuses
    # to write it, so json writes the answer (escaped), still one valid JSON document.
    failures = [{"index": 0, "field": "ets", "mid": "cut-\ud83d"}]
    answer = _answer(200, "SUCCESS", {"status": "partial"}, {"failures": failures})
    assert answer.content_type == "application/json" and answer.charset == "utf-8"
    assert isinstance(answer.body, bytes)
    assert json.loads(answer.body)["result"]["failures"] == failures
    plain = _answer(200, "SUCCESS", {"status": "successful", "note": "é"})
    assert isinstance(plain.body, bytes)
    assert json.loads(plain.body)["params"]["note"] == "é"


@pytest.mark.parametrize(
    ("raw", "headers", "status", "reason"),
    [
        (b"{not json", {}, 400, "not valid JSON"),
        (b"[1, 2]", {}, 400, "must be a JSON object"),
        (b'{"id": "api.sunbird.telemetry"}', {}, 400, "'events' must be an array"),
        (b'{"events": {}}', {}, 400, "'events' must be an array"),
        (b'{"events": [], "params": []}', {}, 400, "'params' must be an object"),
        (b'{"events": [], "id": 3}', {}, 400, "'id' must be a string"),
        (b'{"events": []}', {"Content-Type": "application/xml"}, 415, "content type"),
        (b"\x1f\x8bnot gzip", {"Content-Encoding": "gzip"}, 400, "not valid gzip"),
        (b'{"events": []}', {"Content-Encoding": "br"}, 415, "content encoding"),
    ],
)
def test_a_bundle_that_cannot_be_read_is_refused_whole(
    served: CollectorThread, raw: bytes, headers: dict[str, str], status: int, reason: str
) -> None:
    got, answer, _ = post(served.url, None, headers, raw=raw)
    assert got == status, answer
    assert answer["responseCode"] == "CLIENT_ERROR"
    assert answer["params"]["status"] == "failed"
    assert reason in answer["params"]["errmsg"]


def test_size_limits_and_gzip(served: CollectorThread, tmp_path: Path) -> None:
    events = [event("LOG", edata={"type": "t", "level": "INFO", "message": "x"})]
    status, answer, _ = post(
        served.url,
        None,
        {"Content-Encoding": "gzip"},
        raw=gzip.compress(json.dumps(bundle(events)).encode()),
    )
    assert status == 200 and answer["result"]["stored"] == 1
    big = b'{"events": [], "pad": "' + b"x" * (6 * 1024 * 1024) + b'"}'
    status, answer, _ = post(served.url, None, raw=big)
    assert status == 413 and "over the limit" in answer["params"]["errmsg"]
    bomb = gzip.compress(b'{"events": [], "pad": "' + b"0" * (64 * 1024 * 1024) + b'"}')
    assert len(bomb) < 1024 * 1024
    status, answer, _ = post(served.url, None, {"Content-Encoding": "gzip"}, raw=bomb)
    assert status == 413 and "decompressed" in answer["params"]["errmsg"]
    many = bundle([{"eid": "LOG"}] * 10_001)
    status, answer, _ = post(served.url, many)
    assert status == 413 and "10001 events" in answer["params"]["errmsg"]


def test_duplicates_within_and_across_bundles_and_retries_are_stored_once(
    served: CollectorThread,
) -> None:
    one, two = event("START"), event("INTERACT")
    status, answer, _ = post(served.url, bundle([one, two, one]))
    assert answer["result"]["stored"] == 2 and answer["result"]["duplicates"] == 1
    # A retry of the same bundle (same msgid, same bytes): a repeat as a whole.
    first = bundle([event("END")])
    post(served.url, first)
    status, answer, _ = post(served.url, first)
    assert status == 200 and answer["result"]["repeatedBundle"] is True
    assert answer["result"]["stored"] == 0 and answer["result"]["duplicates"] == 1
    # The same events in another bundle: each one a duplicate.
    status, answer, _ = post(served.url, bundle([two, event("IMPRESSION")]))
    assert answer["result"]["stored"] == 1 and answer["result"]["duplicates"] == 1
    eids = sorted(e["eid"] for e in stored_events(served.url))
    assert eids == ["END", "IMPRESSION", "INTERACT", "START"]
    assert get(served.url, "/api/client-events/stats")["receiver"]["duplicates"] == 3


def test_the_same_mid_from_two_users_is_two_events(served: CollectorThread) -> None:
    # UCI's mids repeat within a second across users: the key is mid + actor + device.
    shared = "ASSESS:same-second"
    events = [
        event("ASSESS", actor="alice", did="phone-a", mid=shared),
        event("ASSESS", actor="bob", did="phone-b", mid=shared),
        event("ASSESS", actor="bob", did="phone-c", mid=shared),
    ]
    _status, answer, _ = post(served.url, bundle(events))
    assert answer["result"]["stored"] == 3 and answer["result"]["duplicates"] == 0
    assert len(stored_events(served.url, eid="ASSESS")) == 3


def test_a_repeat_after_the_window_is_still_stored_once(tmp_path: Path) -> None:
    config = ServerConfig(store=tmp_path / "s.duckdb", port=0, client_dedup_seconds=0)
    made = event("START")
    with CollectorThread(config) as running:
        post(running.url, bundle([made]))
        status, answer, _ = post(running.url, bundle([made], msgid="other"))
        assert status == 200 and answer["result"]["stored"] == 1  # the window forgot it
        assert len(stored_events(running.url)) == 1  # the store did not
    # After a restart the window is empty; the store still keeps one.
    with CollectorThread(config) as running:
        post(running.url, bundle([made]))
        assert len(stored_events(running.url)) == 1


def test_headers_only_context(served: CollectorThread) -> None:
    made = event("IMPRESSION", did=None, sid=None, conversation=None)
    made["context"] = {"env": "webchat"}
    headers = {"X-Device-ID": "dev-9", "X-Channel-ID": "web", "X-App-ID": "portal"}
    _, answer, _ = post(served.url, bundle([made]), headers)
    assert answer["result"]["stored"] == 1, answer
    stored = stored_events(served.url)[0]
    props = stored["properties"]
    assert stored["service"] == "portal"
    assert props["sunbird.context.channel"] == "web"
    assert props["sunbird.context.pdata.pid"] == "portal"
    assert props["sunbird.context.did"] == PrivacyPolicy().pseudonymize("dev-9")
    # No sid from the client: the collector's own session, the same for the next event.
    assert props["sunbird.session.source"] == "server"
    later = event("END", did=None, sid=None, conversation=None, ets=made["ets"] + 60_000)
    later["context"] = {"env": "webchat"}
    post(served.url, bundle([later]), headers)
    sessions = {e["session_id"] for e in stored_events(served.url)}
    assert len(sessions) == 1 and next(iter(sessions)).startswith("srv-")
    # Without the headers the same shape is invalid, with the reason.
    _status, answer, _ = post(served.url, bundle([{**made, "context": {"env": "webchat"}}]))
    assert answer["result"]["failures"][0]["field"] == "context.channel"


def test_a_bundle_too_big_to_read_on_the_event_loop_is_stored_alike(
    served: CollectorThread,
) -> None:
    # Small bundles are read on the event loop, bigger ones on a worker thread: same result.
    events = [event("INTERACT", actor=f"user-{n}") for n in range(200)]
    events += [events[0], {**events[1], "mid": ""}]  # a duplicate and an invalid event
    body = bundle(events)
    assert len(json.dumps(body)) > INLINE_BYTES
    status, answer, _ = post(served.url, body)
    assert status == 200
    result = answer["result"]
    assert (result["stored"], result["duplicates"], result["failed"]) == (200, 1, 1)
    assert result["failures"][0]["field"] == "mid"
    small = event("INTERACT", actor="user-small")
    _status, answer, _ = post(served.url, bundle([small]))
    assert answer["result"]["stored"] == 1
    stored = {e["properties"]["sunbird.mid"]: e for e in stored_events(served.url)}
    assert len(stored) == 201
    inline, threaded = stored[small["mid"]], stored[events[5]["mid"]]
    assert sorted(inline["properties"]) == sorted(threaded["properties"])


def test_non_finite_numbers_are_refused_alone_or_kept_as_text(served: CollectorThread) -> None:
    # Python's json reads NaN, Infinity and 1e400 (as infinity); none of them is JSON. A number
    # field holding one refuses its event alone; elsewhere it is kept as text, so every stored
    # document stays strict JSON.
    good = event("START", actor="user-good")
    nan_ets = {**event("END", actor="user-nan"), "ets": float("nan")}
    huge = event("IMPRESSION", actor="user-huge")
    huge["edata"]["duration"] = 1.0
    beat = event("HEARTBEAT", actor="user-beat")
    beat["edata"] = {"load": float("inf"), "min": float("-inf")}
    raw = json.dumps(bundle([good, nan_ets, huge, beat])).replace(
        '"duration": 1.0', '"duration": 1e400'
    )
    status, answer, _ = post(served.url, None, raw=raw.encode())
    assert status == 200
    result = answer["result"]
    assert (result["stored"], result["failed"]) == (2, 2)
    reasons = {failure["field"]: failure["reason"] for failure in result["failures"]}
    assert sorted(reasons) == ["edata.duration", "ets"]
    assert all(reason.endswith("found string") for reason in reasons.values())
    stored = {e["eid"]: e for e in stored_events(served.url)}
    assert sorted(stored) == ["HEARTBEAT", "START"]
    assert stored["HEARTBEAT"]["properties"]["sunbird.edata.load"] == "Infinity"
    assert stored["HEARTBEAT"]["properties"]["sunbird.edata.min"] == "-Infinity"


def test_a_lone_surrogate_is_repaired_not_the_bundle_lost(served: CollectorThread) -> None:
    # Half an emoji, cut by a JavaScript client: JSON may escape it, UTF-8 cannot hold it. As
    # on the OTLP receiver it becomes U+FFFD, in values and keys; the event beside it is kept.
    good = event("INTERACT", actor="user-good", mid="good-1")
    cut = event("INTERACT", actor="user-cut", mid="cut-1")
    cut["edata"]["plugin"] = {"id": "EMOJI", "ver": "1"}
    raw = (
        json.dumps(bundle([good, cut]))
        .replace('"EMOJI"', '"half\\ud83d"')  # one token: with a space, free text (left out)
        .replace('"cut-1"', '"cut-\\udc00"')
    )
    status, answer, _ = post(served.url, None, raw=raw.encode())
    assert status == 200, answer
    assert answer["result"]["stored"] == 2 and answer["result"]["failed"] == 0
    stored = {e["properties"]["sunbird.mid"]: e for e in stored_events(served.url)}
    assert sorted(stored) == ["cut-\ufffd", "good-1"]
    assert stored["cut-\ufffd"]["properties"]["sunbird.edata.plugin.id"] == "half\ufffd"


def test_concurrent_senders_store_each_event_once(served: CollectorThread) -> None:
    events = [event("INTERACT", actor=f"user-{n}") for n in range(40)]
    bundles = [bundle(events[start : start + 20]) for start in range(0, 40, 10)]  # overlapping
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()

    def send(body: dict[str, Any]) -> None:
        for _ in range(3):  # each sender retries its bundle, as the SDK does
            status, answer, _ = post(served.url, body)
            assert status == 200
            with lock:
                answers.append(answer["result"])

    threads = [threading.Thread(target=send, args=(body,)) for body in bundles * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 24
    assert sum(a["stored"] for a in answers) == 40
    received = sum(a["received"] for a in answers)
    assert sum(a["duplicates"] for a in answers) == received - 40
    assert len(stored_events(served.url)) == 40


def test_cors_for_listed_pages_and_the_token_rule(tmp_path: Path) -> None:
    config = ServerConfig(store=tmp_path / "s.duckdb", port=0, token="t" * 20, cors_origins=(PAGE,))
    with CollectorThread(config) as running:
        url = running.url
        preflight = {
            "Origin": PAGE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-app-id,x-channel-id,x-device-id",
        }
        for path in ("/v1/telemetry", "/v1/traces"):
            request = urllib.request.Request(f"{url}{path}", headers=preflight, method="OPTIONS")
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 204
                assert response.headers["Access-Control-Allow-Origin"] == PAGE
                allowed = response.headers["Access-Control-Allow-Headers"]
                assert {"x-app-id", "x-device-id", "x-channel-id", "content-type"} <= set(
                    allowed.split(", ")
                )
        other = {**preflight, "Origin": "http://127.0.0.1:6000"}
        status, answer, _ = post(url, None, other, method="OPTIONS")
        assert status == 403
        made = bundle([event("START")])
        status, _, headers = post(url, made, {"Origin": PAGE})
        assert status == 401  # same token rule as every other route
        assert headers["Access-Control-Allow-Origin"] == PAGE  # and the page can read why
        status, answer, headers = post(
            url, made, {"Origin": PAGE, "Authorization": f"Bearer {'t' * 20}"}
        )
        assert status == 200 and answer["result"]["stored"] == 1
        assert headers["Access-Control-Allow-Origin"] == PAGE
        # With a token, the token decides, for an unlisted page too; its answer stays unread.
        status, _, headers = post(
            url, made, {"Origin": "http://evil.test", "Authorization": f"Bearer {'t' * 20}"}
        )
        assert status == 200
        assert "Access-Control-Allow-Origin" not in headers
        beacon = {"Origin": "http://evil.test", "Content-Type": "text/plain"}
        status, answer, _ = post(url, made, beacon)
        assert status == 401 and "token" in answer["error"]


def test_without_listed_pages_a_preflight_is_refused_with_what_to_change(
    tmp_path: Path,
) -> None:
    config = ServerConfig(store=tmp_path / "s.duckdb", port=0)
    with CollectorThread(config) as running:
        preflight = {"Origin": PAGE, "Access-Control-Request-Method": "POST"}
        status, answer, headers = post(running.url, None, preflight, method="OPTIONS")
        assert status == 403
        assert f"--cors-origin {PAGE}" in answer["error"]
        assert "Access-Control-Allow-Origin" not in headers
        # Nor is a request that needs no preflight (text/plain): another site's page must not
        # write to a collector on the user's machine. Clients that are not pages send no
        # Origin and are served.
        status, answer, headers = post(running.url, bundle([event("START")]), {"Origin": PAGE})
        assert status == 403 and f"--cors-origin {PAGE}" in answer["error"]
        assert "Access-Control-Allow-Origin" not in headers
        status, answer, _ = post(running.url, bundle([event("START")]), {})
        assert status == 200 and answer["result"]["stored"] == 1


def test_client_events_join_the_conversation_and_the_trace(served: CollectorThread) -> None:
    sent = run_conversation(served.url)
    turn_trace = sent.turn_traces[1]
    summaries = get(served.url, f"/api/conversations/{sent.conversation_id}")["turns"]
    first_start = min(turn["start"] for turn in summaries)
    from datetime import datetime

    before = int(datetime.fromisoformat(first_start.replace("Z", "+00:00")).timestamp() * 1000)
    start = event("START", conversation=sent.conversation_id, ets=before - 5_000)
    turn_start = next(t["start"] for t in summaries if t["trace_id"] == turn_trace)
    turn_ms = int(datetime.fromisoformat(turn_start.replace("Z", "+00:00")).timestamp() * 1000)
    # The click on send comes before the turn it starts; the thumbs up after its reply.
    interact = event("INTERACT", conversation=sent.conversation_id, ets=turn_ms - 40)
    interact["context"]["cdata"].append({"type": "Trace", "id": turn_trace.upper()})
    feedback = event("FEEDBACK", conversation=sent.conversation_id, ets=turn_ms + 60_000)
    feedback["context"]["cdata"].append({"type": "Trace", "id": turn_trace})
    post(served.url, bundle([start, interact, feedback]))
    found = get(served.url, f"/api/conversations/{sent.conversation_id}")
    assert [note["eid"] for note in found["client_events"]] == ["START"]
    assert found["client_events"][0]["before_turn"] == 0
    turn = next(t for t in found["turns"] if t["trace_id"] == turn_trace)
    assert [note["eid"] for note in turn["client_events"]] == ["INTERACT", "FEEDBACK"]
    assert turn["client_events"][0]["label"] == "INTERACT CLICK imBack suggested-action"
    trace = get(served.url, f"/api/traces/{turn_trace}")
    assert "INTERACT" in [entry["event_name"] for entry in trace["logs"]]
    # The CLI's transcript shows them in place too.
    from bot_telemetry.web.render import conversation_as_text

    text = conversation_as_text(found)
    assert text.index("page: START") < text.index("#1 ")
    number = found["turns"].index(turn) + 1
    block = text[text.index(f"#{number} ") :]
    block = block[: block.index(f"#{number + 1} ")] if f"#{number + 1} " in block else block
    # In the turn, by time: the click that sent the message, what the user said, the bot's
    # reply, then the page's feedback on it.
    assert "  page: INTERACT CLICK imBack suggested-action" in block
    assert block.index("page: INTERACT") < block.index("  user: ") < block.index("  bot: ")
    assert block.index("  bot: ") < block.index("page: FEEDBACK")


def test_cli_lists_client_events_and_the_failed_set(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with CollectorThread(ServerConfig(store=path, port=0)) as running:
        post(running.url, bundle([event("FEEDBACK"), event("START", ver="9")]))

    def cli(*args: str) -> str:
        # In this process: the store is closed, and a process per command only adds start-up.
        done = run_cli_here("client-events", "--store", str(path), *args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "FEEDBACK rating 5" in cli()
    # The reason is the table's last column; a long one wraps inside it (docs/cli.md#width).
    failed = " ".join(cli("--failed").split())
    assert 'ver: expected one of "3.0", "3.1", found \'9\'' in failed
    lines = [json.loads(line) for line in cli("--failed", "--format", "jsonl").splitlines()]
    assert [(f["eid"], f["field"]) for f in lines] == [("START", "ver")]
    opened = Store.open(path, read_only=True)
    try:
        with opened.reader() as db:
            scopes = db.execute("SELECT scope_name, count(*) FROM logs GROUP BY 1").fetchall()
    finally:
        opened.close()
    assert dict(scopes) == {contract.CLIENT_EVENT_SCOPE: 1, contract.CLIENT_FAILED_SCOPE: 1}


def docs_mounting_snippet() -> str:
    """The Python block of docs/client-telemetry.md that mounts the route in your own app."""
    text = (REPO / "docs" / "client-telemetry.md").read_text()
    start = text.index("can be mounted in any aiohttp")
    block = text[text.index("```python\n", start) + len("```python\n") :]
    return block[: block.index("```")]


def test_the_docs_mounting_snippet_runs_as_written(tmp_path: Path) -> None:
    """Your own aiohttp app with the route mounted as the docs show: it starts, stores a
    page's bundle, refuses an unlisted page's, stops cleanly with the rows committed, and the
    CLI then lists them."""
    snippet = docs_mounting_snippet()
    # Only the values a reader changes: the store's path, the page's origin, the port.
    port = free_port()
    for value in ('"telemetry.duckdb"', '"https://chat.example.com"', "port=8080"):
        assert value in snippet, value
    script = tmp_path / "app.py"
    script.write_text(
        snippet.replace('"telemetry.duckdb"', repr(str(tmp_path / "s.duckdb")))
        .replace('"https://chat.example.com"', repr(PAGE))
        .replace("port=8080", f"port={port}")
    )
    url = f"http://127.0.0.1:{port}"
    with running([str(script)], ready_url=f"{url}/") as app:
        status, answer, headers = post(url, bundle([event("START"), event("FEEDBACK")]))
        assert status == 200 and answer["result"]["stored"] == 2, answer
        preflight = {"Origin": PAGE, "Access-Control-Request-Method": "POST"}
        status, _, headers = post(url, None, preflight, method="OPTIONS")
        assert status == 204 and headers["Access-Control-Allow-Origin"] == PAGE
        # The rule serve has: a page the app does not list sends nothing, even a beacon
        # (text/plain, no preflight), and is told what to change in this app; the listed
        # page's beacon is stored.
        other = "http://evil.example"
        beacon = {"Content-Type": "text/plain;charset=UTF-8"}
        status, answer, _ = post(url, bundle([event("INTERACT")]), {**beacon, "Origin": other})
        assert status == 403, answer
        assert f"cors_middleware([..., '{other}'])" in answer["error"]
        status, _, _ = post(url, None, {**preflight, "Origin": other}, method="OPTIONS")
        assert status == 403
        status, answer, headers = post(url, bundle([event("END")]), {**beacon, "Origin": PAGE})
        assert status == 200 and answer["result"]["stored"] == 1, answer
        assert headers["Access-Control-Allow-Origin"] == PAGE
        assert app.stop(signal.SIGINT) == 0
        output = app.output()
    assert "Traceback" not in output and "leaked" not in output, output
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot_telemetry.cli",
            "client-events",
            "--format",
            "jsonl",
            "--store",
            str(tmp_path / "s.duckdb"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(json.loads(line)["eid"] for line in done.stdout.splitlines()) == [
        "END",
        "FEEDBACK",
        "START",
    ]
