"""UCI's data exhaust API on a real ``serve``, over HTTP: submit, read, list, the runner,
the files behind the links, the errors."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import stat
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from bot_telemetry.exhaust.destinations import LinkSigner
from bot_telemetry.exhaust.files import PRIVATE_HEADERS, RESPONSE_HEADERS, read_encrypted_zip
from bot_telemetry.exhaust.jobs import JobStore
from bot_telemetry.privacy.vault import VAULT_KEYS_ENV
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.exhaust.conftest import TOKEN, Served, _serve
from tests.exhaust.traffic import (
    ANSWERS,
    BOT,
    EOFS,
    QUESTIONS,
    SCORES,
    USERS,
    Driven,
    expected_responses,
)
from tests.support.waiting import wait_for

RESPONSE = "uci-response-exhaust"
PRIVATE = "uci-private-exhaust"


def body(dataset: str = RESPONSE, **changes: Any) -> dict[str, Any]:
    today = dt.datetime.now(dt.UTC).date()
    request: dict[str, Any] = {
        "dataset": dataset,
        "tag": str(uuid.uuid4()),
        "requestedBy": "researcher-1",
        "requestedChannel": "ORG_001",
        "datasetConfig": {
            "type": dataset,
            "conversationId": BOT,
            "startDate": (today - dt.timedelta(days=1)).isoformat(),
            "endDate": (today + dt.timedelta(days=1)).isoformat(),
        },
        "output_format": "csv",
    }
    if dataset == PRIVATE:
        request["encryptionKey"] = "s3cret-zip-password"
    for key, value in changes.items():
        if key in request["datasetConfig"]:
            request["datasetConfig"][key] = value
        elif value is None:
            request.pop(key, None)
        else:
            request[key] = value
    return {
        "id": "ekstep.analytics.job.request.submit",
        "ver": "1.0",
        "ts": "2025-06-01T10:07:00+05:30",
        "params": {"msgid": str(uuid.uuid4())},
        "request": request,
    }


def uci_request_id(request: dict[str, Any]) -> str:
    """The rule, computed here independently: MD5 of dataset|tag|by|channel|date|type."""
    today = dt.datetime.now(dt.UTC).date().isoformat()
    text = "|".join(
        (
            request["dataset"],
            request["tag"],
            request["requestedBy"],
            request["requestedChannel"],
            today,
            request["datasetConfig"]["type"],
        )
    )
    return hashlib.md5(text.encode()).hexdigest().upper()


def finished(served: Served, tag: str, request_id: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def done() -> bool:
        answer = served.get(f"/dataset/v1/request/read/{tag}", requestId=request_id).json()
        found.update(answer)
        return answer["result"]["status"] in ("SUCCESS", "FAILED")

    wait_for(done, timeout=60, what=f"job {request_id} to finish")
    return found


def submitted(served: Served, request: dict[str, Any]) -> dict[str, Any]:
    answer = served.post("/dataset/v1/request/submit", request)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def rows_of(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.reader(io.StringIO(text))
    headers = next(reader)
    return headers, [dict(zip(headers, row, strict=True)) for row in reader]


# --- the response exhaust ----------------------------------------------------------------


def test_submit_answers_as_uci_and_the_same_request_is_the_same_job(served: Served) -> None:
    request = body()
    first = submitted(served, request)
    assert first["id"] == "ekstep.analytics.dataset.request.submit"
    assert first["responseCode"] == "OK" and first["params"]["status"] == "successful"
    result = first["result"]
    assert set(result) == {
        "attempts",
        "lastUpdated",
        "tag",
        "expiresAt",
        "datasetConfig",
        "downloadUrls",
        "requestedBy",
        "jobStats",
        "status",
        "dataset",
        "requestId",
        "requestedChannel",
    }
    assert result["requestId"] == uci_request_id(request["request"])
    assert result["tag"] == f"{request['request']['tag']}:ORG_001"
    assert result["status"] == "SUBMITTED" and result["downloadUrls"] == []
    assert result["datasetConfig"] == request["request"]["datasetConfig"]
    assert set(result["jobStats"]) == {"dtJobSubmitted", "dtJobCompleted", "executionTime"}
    again = submitted(served, {**request, "params": {"msgid": "another"}})["result"]
    assert again["requestId"] == result["requestId"]
    assert again["jobStats"]["dtJobSubmitted"] == result["jobStats"]["dtJobSubmitted"]


def test_the_same_id_with_other_parameters_is_a_conflict_naming_them_and_the_job(
    served: Served,
) -> None:
    request = body()
    request_id = submitted(served, request)["result"]["requestId"]
    other = body(
        tag=request["request"]["tag"], conversationId="another-bot", startDate="2025-01-01"
    )
    answer = served.post("/dataset/v1/request/submit", other)
    assert answer.status_code == 409, answer.text
    found = answer.json()
    assert (found["responseCode"], found["params"]["err"]) == ("CLIENT_ERROR", "CONFLICT")
    message = found["params"]["errmsg"]
    assert message.startswith(
        f"request.datasetConfig.conversationId: differs from job '{request_id}'"
    ), message
    assert f"request.datasetConfig.conversationId is '{BOT}' there, 'another-bot' here" in message
    start = request["request"]["datasetConfig"]["startDate"]
    assert f"request.datasetConfig.startDate is '{start}' there, '2025-01-01' here" in message
    assert "endDate" not in message and found["result"] == {}
    # asking for a ZIP where the job makes a CSV (the key itself is never shown)
    keyed = served.post(
        "/dataset/v1/request/submit",
        {**request, "request": {**request["request"], "encryptionKey": "a-zip-password"}},
    )
    assert keyed.status_code == 409
    assert keyed.json()["params"]["errmsg"].startswith("request.encryptionKey: differs")
    assert "a-zip-password" not in keyed.text
    # the very same request is still the job as it stands
    again = submitted(served, request)["result"]
    assert again["requestId"] == request_id
    assert again["datasetConfig"] == request["request"]["datasetConfig"]


def test_a_finished_job_submitted_again_has_fresh_links_as_read_gives(served: Served) -> None:
    request = body()
    tag = request["request"]["tag"]
    request_id = submitted(served, request)["result"]["requestId"]
    (read_url,) = finished(served, tag, request_id)["result"]["downloadUrls"]
    again = submitted(served, request)["result"]
    assert (again["requestId"], again["status"]) == (request_id, "SUCCESS")
    assert "statusMessage" not in again  # as UCI's submit answers
    assert abs(again["expiresAt"] - (time.time() * 1000 + 30 * 60 * 1000)) < 60_000
    (url,) = again["downloadUrls"]
    assert url.split("?")[0] == read_url.split("?")[0]
    assert f"expires={again['expiresAt'] // 1000}" in url
    download = requests.get(url, timeout=30)
    assert download.status_code == 200, download.text
    assert download.content == requests.get(read_url, timeout=30).content


def test_the_response_file_has_one_row_per_answer_and_only_consented_responses(
    served: Served,
) -> None:
    request = body()
    tag = request["request"]["tag"]
    request_id = submitted(served, request)["result"]["requestId"]
    answer = finished(served, tag, request_id)
    result = answer["result"]
    assert result["status"] == "SUCCESS", result
    assert result["statusMessage"] == "" and result["attempts"] == 1
    now_ms = time.time() * 1000
    assert abs(result["expiresAt"] - (now_ms + 30 * 60 * 1000)) < 60_000
    (url,) = result["downloadUrls"]
    download = requests.get(url, headers=served.headers(), timeout=30)
    assert download.status_code == 200, download.text
    headers, rows = rows_of(download.content.decode())
    assert headers == list(RESPONSE_HEADERS)
    assert len(rows) == served.driven.answers == len(USERS) * len(ANSWERS)
    for role, real_id in USERS.items():
        mine = [row for row in rows if row["Device ID"] == Driven.pseudonym(real_id)]
        assert [row["Question Response"] for row in mine] == expected_responses(role), role
        assert [(r["Question Id"], r["Question Type"], r["Question Title"]) for r in mine] == list(
            QUESTIONS
        )
        assert [row["Question Score"] for row in mine] == list(SCORES)
        assert [row["Eof"] for row in mine] == list(EOFS)
        assert {row["Question Max Score"] for row in mine} == {"1"}
        assert {row["X Path"] for row in mine} == {
            f"survey/survey.steps/{p}" for p in ("survey.name", "survey.size", "survey.ok")
        }
        assert {(row["Conversation ID"], row["Conversation Name"]) for row in mine} == {(BOT, BOT)}
        assert len({row["Session ID"] for row in mine}) == 1 and mine[0]["Session ID"]
        assert all(row["Message ID"] for row in mine)
        assert mine[2]["Question Description"] == "From 1 to 12, please."
    # no real id anywhere in the file
    assert not any(real_id in download.text for real_id in USERS.values())
    times = [row["Timestamp"] for row in rows]
    assert times == sorted(times) and all(t.endswith("Z") for t in times)


def test_links_are_signed_again_on_every_read_and_refuse_tampering_and_expiry(
    served: Served,
) -> None:
    request = body()
    tag = request["request"]["tag"]
    request_id = submitted(served, request)["result"]["requestId"]
    first = finished(served, tag, request_id)["result"]
    time.sleep(1.1)  # the next read's expiry is a later second
    second = served.get(f"/dataset/v1/request/read/{tag}", requestId=request_id).json()["result"]
    assert second["expiresAt"] > first["expiresAt"]
    assert second["downloadUrls"] != first["downloadUrls"]
    url = second["downloadUrls"][0]
    tampered = url.replace("signature=", "signature=0")
    refused = requests.get(tampered, timeout=30)
    assert refused.status_code == 403 and "tampered" in refused.json()["error"]
    # a link signed with the server's own key, but already expired
    path, _, _ = url.partition("?")
    name = path.split("/dataset/v1/download/", 1)[1]
    signer = LinkSigner.for_folder(served.folder)
    expired_at = int(time.time()) - 5
    expired = f"{path}?expires={expired_at}&signature={signer.signature(name, expired_at)}"
    refused = requests.get(expired, timeout=30)
    # Gone, in the API's envelope, saying when and where a fresh link is.
    assert refused.status_code == 410, refused.text
    params = refused.json()["params"]
    assert (params["status"], params["err"]) == ("failed", "LINK_EXPIRED")
    moment = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(expired_at))
    assert params["errmsg"] == (
        f"expires: the link expired at {moment} (links last 30 minutes from the read that "
        f"signed them); for a fresh link, open {served.url}/#/exhausts/{tag} or run "
        f"`bot-telemetry exhaust status {tag} {request_id}` "
        f"(or GET /dataset/v1/request/read/{tag}?requestId={request_id})"
    )
    # ... whether or not the file is still there (the link is genuine either way).
    gone_name = name.replace(request_id, "0" * 32)
    gone = (
        f"{path.replace(request_id, '0' * 32)}?expires={expired_at}"
        f"&signature={signer.signature(gone_name, expired_at)}"
    )
    refused = requests.get(gone, timeout=30)
    assert refused.status_code == 410 and "exhaust status TAG REQUEST_ID" in refused.text
    # the same link made to last longer no longer matches its signature
    longer = url.replace(f"expires={second['expiresAt'] // 1000}", f"expires={2**40}")
    assert requests.get(longer, timeout=30).json()["error"].startswith("the link was tampered")


def test_a_forged_link_is_refused_alike_whether_or_not_its_file_exists(served: Served) -> None:
    request = body()
    tag = request["request"]["tag"]
    request_id = submitted(served, request)["result"]["requestId"]
    (url,) = finished(served, tag, request_id)["result"]["downloadUrls"]
    path = url.partition("?")[0]
    # the same name under another (predictable) request id: no such job, no such file
    absent = path.replace(request_id, "0" * 32)
    forged_query = "expires=9999999999&signature=" + "0" * 64
    for asked in (f"{path}?{forged_query}", f"{absent}?{forged_query}"):
        refused = requests.get(asked, timeout=30)
        assert refused.status_code == 403, (asked, refused.text)
        assert refused.json() == {
            "error": "the link was tampered with: its signature does not match"
        }
    for unsigned in (path, absent):
        refused = requests.get(unsigned, timeout=30)
        assert refused.status_code == 403 and "not signed" in refused.json()["error"]
    # only a link this server signed learns that its file is not there
    name = absent.split("/dataset/v1/download/", 1)[1]
    expires = int(time.time()) + 60
    signature = LinkSigner.for_folder(served.folder).signature(name, expires)
    missing = requests.get(f"{absent}?expires={expires}&signature={signature}", timeout=30)
    assert missing.status_code == 404
    assert requests.get(url, timeout=30).status_code == 200
    # the refused attempts are in the audit trail, for the absent file too
    jobs = JobStore(served.folder / "jobs.sqlite3")
    try:
        absent_trail = [(r.file, r.outcome) for r in jobs.audit_trail("0" * 32)]
    finally:
        jobs.close()
    assert (name, "refused: the link was tampered with: its signature does not match") in (
        absent_trail
    )


def test_a_hand_edited_link_is_refused_with_its_reason_never_a_server_error(
    served: Served,
) -> None:
    request = body()
    tag = request["request"]["tag"]
    request_id = submitted(served, request)["result"]["requestId"]
    (url,) = finished(served, tag, request_id)["result"]["downloadUrls"]
    path = url.partition("?")[0]
    good = "0" * 64
    for query, reason in (
        # '²' passes str.isdigit(), not int(); a signature outside ASCII, compare_digest
        ("expires=%C2%B2&signature=" + good, "not signed"),
        ("expires=%D9%A1%D9%A2&signature=" + good, "not signed"),
        ("expires=9999999999&signature=%C3%A9" + good, "tampered"),
        ("expires=" + "9" * 5000 + "&signature=" + good, "tampered"),
    ):
        refused = requests.get(f"{path}?{query}", timeout=30)
        assert refused.status_code == 403, (query[:60], refused.status_code, refused.text)
        assert reason in refused.json()["error"]
    # a NUL in the file's name, which no path may hold
    refused = requests.get(f"{path[:-4]}%00.csv?expires=9999999999&signature={good}", timeout=30)
    assert refused.status_code == 403, refused.text
    assert "tampered" in refused.json()["error"]


def test_the_exhaust_folder_serve_creates_is_its_users_only(tmp_path: Path) -> None:
    # Under the usual umask the answers' files and a pending private export's password (in
    # jobs.sqlite3) were readable by every user of the machine.
    previous = os.umask(0o022)
    try:
        with CollectorThread(ServerConfig(store=tmp_path / "store.duckdb", port=0)):
            pass
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "exhaust").stat().st_mode) == 0o700


def test_behind_a_proxy_links_point_at_the_public_url(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # Links were built from the address asked on: behind a proxy, its upstream address
    # (http://127.0.0.1:4318), which the people it serves cannot open.
    public = "https://telemetry.example.com"
    folder = tmp_path_factory.mktemp("exhaust-proxied")
    for proxied in _serve(folder, None, public_url=public):
        request = body()
        tag = request["request"]["tag"]
        request_id = submitted(proxied, request)["result"]["requestId"]
        (url,) = finished(proxied, tag, request_id)["result"]["downloadUrls"]
        assert url.startswith(f"{public}/dataset/v1/download/uci-response-exhaust/{request_id}/")
        # The same path and query on the address serve is asked on (what the proxy does).
        local = url.replace(public, proxied.url)
        assert requests.get(local, timeout=30).status_code == 200
        name = url.partition("?")[0].split("/dataset/v1/download/", 1)[1]
        expired_at = int(time.time()) - 5
        signature = LinkSigner.for_folder(proxied.folder).signature(name, expired_at)
        gone = requests.get(
            f"{local.partition('?')[0]}?expires={expired_at}&signature={signature}", timeout=30
        )
        assert gone.status_code == 410 and f"open {public}/#/exhausts/{tag}" in gone.text


def test_list_gives_a_tags_newest_jobs(served: Served) -> None:
    tag = str(uuid.uuid4())
    first = submitted(served, body(tag=tag))["result"]["requestId"]
    second = submitted(served, body(tag=tag, requestedBy="researcher-2"))["result"]["requestId"]
    answer = served.get(f"/dataset/v1/request/list/{tag}", limit="5").json()
    assert answer["id"] == "ekstep.analytics.dataset.request.list"
    assert answer["result"]["count"] == 2
    assert {job["requestId"] for job in answer["result"]["jobs"]} == {first, second}
    assert all(job["tag"] == f"{tag}:ORG_001" for job in answer["result"]["jobs"])
    one = served.get(f"/dataset/v1/request/list/{tag}", limit="1").json()["result"]
    assert one["count"] == 1


def test_a_window_without_answers_fails_with_no_data_and_can_be_submitted_again(
    served: Served,
) -> None:
    request = body(conversationId="a-bot-nobody-talked-to")
    tag = request["request"]["tag"]
    request_id = submitted(served, request)["result"]["requestId"]
    result = finished(served, tag, request_id)["result"]
    assert (result["status"], result["statusMessage"]) == ("FAILED", "No data found")
    assert result["downloadUrls"] == []
    again = served.post("/dataset/v1/request/submit", request).json()["result"]
    assert (again["requestId"], again["status"]) == (request_id, "SUBMITTED")


@pytest.mark.parametrize(
    "dates",
    [{"endDate": "9999-12-31"}, {"startDate": "0001-01-01"}],
    ids=["until-9999", "since-0001"],
)
def test_dates_at_the_ends_of_the_calendar_take_everything_on_that_side(
    served: Served, dates: dict[str, str]
) -> None:
    request = body(**dates)
    tag = request["request"]["tag"]
    answer = submitted(served, request)["result"]
    assert answer["datasetConfig"] == request["request"]["datasetConfig"]
    result = finished(served, tag, answer["requestId"])["result"]
    assert (result["status"], result["statusMessage"], result["attempts"]) == ("SUCCESS", "", 1)
    (url,) = result["downloadUrls"]
    _, rows = rows_of(requests.get(url, timeout=30).content.decode())
    assert len(rows) == served.driven.answers


# --- the private exhaust -----------------------------------------------------------------


def test_private_exhausts_are_never_served_without_a_token(served: Served) -> None:
    request = body(PRIVATE)
    tag = request["request"]["tag"]
    request_id = submitted(served, request)["result"]["requestId"]
    result = finished(served, tag, request_id)["result"]
    assert result["status"] == "SUCCESS"
    (url,) = result["downloadUrls"]
    assert url.split("?")[0].endswith(".zip")
    refused = requests.get(url, timeout=30)
    assert refused.status_code == 403
    assert "only with a token" in refused.json()["error"]


def test_private_rows_are_decrypted_exactly_for_consenting_users(guarded: Served) -> None:
    request = body(PRIVATE)
    tag = request["request"]["tag"]
    assert requests.get(guarded.url + "/dataset/v1/request/list/x", timeout=30).status_code == 401
    request_id = submitted(guarded, request)["result"]["requestId"]
    result = finished(guarded, tag, request_id)["result"]
    assert result["status"] == "SUCCESS", result
    (url,) = result["downloadUrls"]
    assert requests.get(url, timeout=30).status_code == 401  # the token, besides the signature
    download = requests.get(url, headers=guarded.headers(), timeout=30)
    assert download.status_code == 200
    assert download.content[:2] == b"PK"
    archive = guarded.folder / "check.zip"
    archive.write_bytes(download.content)
    (member,) = read_encrypted_zip(archive, "s3cret-zip-password").values()
    headers, rows = rows_of(member.decode())
    assert headers == list(PRIVATE_HEADERS)
    by_device = {row["Device UUID"]: row for row in rows}
    assert set(by_device) == {Driven.pseudonym(real) for real in USERS.values()}
    for role, real_id in USERS.items():
        row = by_device[Driven.pseudonym(real_id)]
        assert (row["Conversation ID"], row["Conversation Name"]) == (BOT, BOT)
        if role == "consenting":
            assert row["Decrypted Device ID"] == real_id
            assert row["Encrypted Device ID"].startswith("v1:k1:")
        else:  # never consented, or withdrew: the pseudonymous id, no ciphertext
            assert row["Decrypted Device ID"] == Driven.pseudonym(real_id)
            assert row["Encrypted Device ID"] == ""
    with pytest.raises(RuntimeError):
        read_encrypted_zip(archive, "a wrong password")
    # the download is in the audit trail, as an event beside the telemetry
    events = guarded.get("/api/events", name="ExhaustDownloaded").json()
    assert any(request_id in str(event) for event in events)


def test_a_private_export_on_a_serve_without_a_vault_key_says_so(
    guarded: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consenting users' real ids were quietly pseudonymous ids: the job said SUCCESS
    and nothing else, the reason only in serve's log, which the analyst does not read."""
    monkeypatch.delenv(VAULT_KEYS_ENV, raising=False)
    with CollectorThread(ServerConfig(store=tmp_path / "t.duckdb", port=0, token=TOKEN)) as bare:
        keyless = Served(bare.url, tmp_path / "t.duckdb", guarded.driven, TOKEN)
        for posted in guarded.driven.requests:
            answer = requests.post(
                f"{bare.url}/v1/logs",
                data=posted.SerializeToString(),
                headers={"Content-Type": "application/x-protobuf", **keyless.headers()},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
        request = body(PRIVATE)
        tag = request["request"]["tag"]
        request_id = submitted(keyless, request)["result"]["requestId"]
        result = finished(keyless, tag, request_id)["result"]
        assert result["status"] == "SUCCESS", result
        said = result["statusMessage"]
        assert said.startswith("no vault key on this collector (BOT_TELEMETRY_VAULT_KEYS"), said
        assert "pseudonymous id" in said and "consenting" in said, said
        listed = keyless.get(f"/dataset/v1/request/list/{tag}").json()["result"]["jobs"]
        assert [job["statusMessage"] for job in listed] == [said]
        (url,) = result["downloadUrls"]
        archive = tmp_path / "private.zip"
        archive.write_bytes(requests.get(url, headers=keyless.headers(), timeout=30).content)
        (member,) = read_encrypted_zip(archive, "s3cret-zip-password").values()
        _, rows = rows_of(member.decode())
        consenting = Driven.pseudonym(USERS["consenting"])
        (row,) = [row for row in rows if row["Device UUID"] == consenting]
        assert row["Decrypted Device ID"] == consenting
        assert row["Encrypted Device ID"].startswith("v1:k1:")
    # With the key, nothing to say.
    request = body(PRIVATE)
    request_id = submitted(guarded, request)["result"]["requestId"]
    result = finished(guarded, request["request"]["tag"], request_id)["result"]
    assert (result["status"], result["statusMessage"]) == ("SUCCESS", "")


# --- errors, in UCI's envelope -------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"dataset": None}, "request.dataset"),
        ({"dataset": "uci-everything"}, "request.dataset"),
        ({"tag": None}, "request.tag"),
        ({"requestedBy": None}, "request.requestedBy"),
        ({"requestedChannel": None}, "request.requestedChannel"),
        ({"startDate": "2025-13-01"}, "request.datasetConfig.startDate"),
        ({"endDate": "01/02/2025"}, "request.datasetConfig.endDate"),
        ({"startDate": "2025-06-10", "endDate": "2025-06-01"}, "request.datasetConfig.endDate"),
        ({"conversationId": ""}, "request.datasetConfig.conversationId"),
        ({"output_format": "json"}, "request.output_format"),
        ({"type": "uci-private-exhaust"}, "request.datasetConfig.type"),
        ({"tag": "p|q"}, "request.tag"),
        ({"requestedBy": "q|r"}, "request.requestedBy"),
        ({"requestedChannel": "ORG|001"}, "request.requestedChannel"),
    ],
)
def test_bad_requests_get_a_client_error_naming_the_field(
    served: Served, change: dict[str, Any], field: str
) -> None:
    answer = served.post("/dataset/v1/request/submit", body(**change))
    assert answer.status_code == 400
    found = answer.json()
    assert found["responseCode"] == "CLIENT_ERROR"
    assert found["params"]["status"] == "failed"
    assert found["params"]["errmsg"].startswith(f"{field}: "), found["params"]["errmsg"]
    assert found["result"] == {}


def test_a_bar_inside_the_fields_of_the_request_id_is_refused_so_no_two_requests_share_one(
    served: Served,
) -> None:
    # MD5 of "...|p|q|r|..." both times: without the rule they would be one job
    tag = str(uuid.uuid4())
    one = served.post("/dataset/v1/request/submit", body(tag=f"{tag}|q", requestedBy="r"))
    other = served.post("/dataset/v1/request/submit", body(tag=tag, requestedBy="q|r"))
    assert (one.status_code, other.status_code) == (400, 400)
    assert one.json()["params"]["errmsg"].startswith("request.tag: must not contain '|'")
    assert other.json()["params"]["errmsg"].startswith("request.requestedBy: must not contain")
    assert served.get(f"/dataset/v1/request/list/{tag}").status_code == 404  # no job at all


def test_a_private_request_needs_its_encryption_key(served: Served) -> None:
    answer = served.post("/dataset/v1/request/submit", body(PRIVATE, encryptionKey=None)).json()
    assert answer["params"]["errmsg"].startswith("request.encryptionKey: is missing")


def test_unknown_tags_and_request_ids_are_client_errors(served: Served) -> None:
    request = body()
    tag = request["request"]["tag"]
    submitted(served, request)
    unknown_id = served.get(f"/dataset/v1/request/read/{tag}", requestId="0" * 32)
    assert unknown_id.status_code == 404
    assert unknown_id.json()["params"]["errmsg"].startswith("requestId: ")
    unknown_tag = served.get("/dataset/v1/request/read/no-such-tag", requestId="0" * 32)
    assert unknown_tag.json()["responseCode"] == "CLIENT_ERROR"
    assert unknown_tag.json()["params"]["errmsg"].startswith("tag: ")
    missing = served.get(f"/dataset/v1/request/read/{tag}")
    assert missing.json()["params"]["errmsg"].startswith("requestId: is missing")
    listed = served.get("/dataset/v1/request/list/no-such-tag", limit="3")
    assert listed.status_code == 404 and listed.json()["params"]["errmsg"].startswith("tag: ")
    bad_limit = served.get(f"/dataset/v1/request/list/{tag}", limit="lots")
    assert bad_limit.json()["params"]["errmsg"].startswith("limit: ")
    not_json = requests.post(
        served.url + "/dataset/v1/request/submit", data=b"{", timeout=30
    ).json()
    assert not_json["params"]["errmsg"].startswith("body: ")
