"""The local PostHog server answers PostHog's official Python client as PostHog does, so
what our sender is tested against is the protocol that client speaks."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
from typing import Any

import posthog

from tests.support.posthog import PostHogServer


def post(server: PostHogServer, body: bytes, **headers: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{server.url}/batch/", data=body, headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_official_client_is_accepted(posthog_server: PostHogServer) -> None:
    client = posthog.Posthog(posthog_server.api_key, host=posthog_server.url, gzip=True)
    client.capture("signed up", distinct_id="user-1", properties={"plan": "free"})
    client.capture("paid", distinct_id="user-1", uuid="0190a3c4-0000-7000-8000-000000000001")
    client.flush()
    client.shutdown()
    got = posthog_server.received()
    assert [(r.name, r.distinct_id) for r in got] == [("signed up", "user-1"), ("paid", "user-1")]
    assert got[1].uuid == "0190a3c4-0000-7000-8000-000000000001"
    assert got[0].properties["plan"] == "free"
    assert posthog_server.answers == {200: 1}


def test_the_official_client_gets_401_for_a_bad_key(posthog_server: PostHogServer) -> None:
    errors: list[Exception] = []
    client = posthog.Posthog(
        "phc_wrong", host=posthog_server.url, on_error=lambda e, _: errors.append(e), max_retries=0
    )
    client.capture("x", distinct_id="u")
    client.flush()
    client.shutdown()
    assert posthog_server.answers[401] >= 1 and not posthog_server.received()
    assert errors and getattr(errors[0], "status", None) == 401


def test_documented_answers(posthog_server: PostHogServer) -> None:
    key = posthog_server.api_key
    good = {"api_key": key, "batch": [{"event": "e", "distinct_id": "u"}]}
    assert post(posthog_server, json.dumps(good).encode()) == (200, {"status": 1})
    zipped = gzip.compress(json.dumps(good).encode())
    assert post(posthog_server, zipped, **{"Content-Encoding": "gzip"})[0] == 200
    in_properties = {"api_key": key, "batch": [{"event": "e", "properties": {"distinct_id": "u"}}]}
    assert post(posthog_server, json.dumps(in_properties).encode())[0] == 200
    no_id = {"api_key": key, "batch": [{"event": "e"}]}
    assert post(posthog_server, json.dumps(no_id).encode())[0] == 400
    no_name = {"api_key": key, "batch": [{"distinct_id": "u"}]}
    assert post(posthog_server, json.dumps(no_name).encode())[0] == 400
    assert post(posthog_server, b"{not json")[0] == 400
    assert post(posthog_server, json.dumps({**good, "api_key": "bad"}).encode())[0] == 401
    bad_uuid = {"api_key": key, "batch": [{"event": "e", "distinct_id": "u", "uuid": "nope"}]}
    assert post(posthog_server, json.dumps(bad_uuid).encode())[0] == 200
    assert len(posthog_server.received()) == 3 and len(posthog_server.discarded) == 1
    posthog_server.fail_next(429, retry_after="7")
    request = urllib.request.Request(f"{posthog_server.url}/batch/", data=b"{}")
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        assert (error.code, error.headers["Retry-After"]) == (429, "7")
    posthog_server.fail_next(503)
    assert post(posthog_server, json.dumps(good).encode())[0] == 503


def test_a_body_over_20_mb_is_413(posthog_server: PostHogServer) -> None:
    big = {"api_key": posthog_server.api_key, "batch": [{"event": "e", "distinct_id": "u"}]}
    body = json.dumps(big).encode() + b" " * (20 * 1024 * 1024)
    assert post(posthog_server, body)[0] == 413
