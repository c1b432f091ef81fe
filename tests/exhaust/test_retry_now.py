"""The operator's "retry now": a job waiting to retry after a failed attempt (its store was
down) runs at once when asked, through the API, the CLI and the Exhausts page, on a real
serve holding the survey's telemetry. Its schedule is a daily run an hour away, so nothing but
the retry asked for can run the job while the test looks."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.exhaust import BOT, load_duckdb
from bot_telemetry.exhaust.jobs import JobStore
from bot_telemetry.exhaust.requests import parse_submit
from bot_telemetry.store.database import Store
from tests.exhaust.conftest import Served, _serve
from tests.exhaust.test_api import body
from tests.exhaust.test_ui import followed_to_the_end
from tests.support.browser import Page
from tests.support.processes import run_cli, run_cli_here


@pytest.fixture(scope="module")
def daily(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    later = (dt.datetime.now() + dt.timedelta(hours=1)).strftime("%H:%M")
    yield from _serve(tmp_path_factory.mktemp("retry-now"), None, exhaust_schedule=f"daily@{later}")


def waiting(served: Served) -> tuple[str, str]:
    """A job whose first attempt failed (a runner of cron's, the store down): it waits 30 s.
    Its tag and request id."""
    request = parse_submit(body())
    request_id = request.request_id(dt.datetime.now(dt.UTC).date())
    jobs = JobStore(served.folder / "jobs.sqlite3")
    jobs.submit(request, request_id)
    assert jobs.claim("cron:1") is not None
    failed = jobs.fail(request_id, "OSError: the store was down", retry=True, holder="cron:1")
    assert failed is not None and failed.retry_at_ms is not None
    jobs.close()
    return request.tag, request_id


def read(served: Served, tag: str, request_id: str) -> dict[str, Any]:
    answer = served.get(f"/dataset/v1/request/read/{tag}", requestId=request_id)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["result"]
    return result


def ended(served: Served, tag: str, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        job = read(served, tag, request_id)
        if job["status"] in ("SUCCESS", "FAILED"):
            return job
        assert time.monotonic() < deadline, f"the job did not run: {job}"
        time.sleep(0.1)


def test_a_waiting_job_runs_when_asked_through_the_api(daily: Served) -> None:
    tag, request_id = waiting(daily)
    job = read(daily, tag, request_id)
    assert job["status"] == "SUBMITTED" and job["retryAt"] > time.time() * 1000 + 20_000
    assert job["statusMessage"].startswith("retrying at ")

    answer = daily.post(f"/api/exhaust/retry/{tag}?requestId={request_id}", {})
    assert answer.status_code == 200, answer.text
    retried = answer.json()
    assert (retried["id"], retried["responseCode"]) == ("bot-telemetry.exhaust.retry", "OK")
    assert retried["result"]["status"] == "SUBMITTED"
    assert retried["result"]["retryAt"] <= time.time() * 1000
    assert retried["result"]["statusMessage"].startswith("retrying now (asked at ")
    assert retried["result"]["statusMessage"].endswith(
        ", attempt 2 of 3, last error: OSError: the store was down"
    )
    done = ended(daily, tag, request_id)
    assert (done["status"], done["attempts"], done["retryAt"]) == ("SUCCESS", 2, None)
    assert done["downloadUrls"]

    # A job that is not waiting: 409 saying what it is; an unknown one: 404.
    again = daily.post(f"/api/exhaust/retry/{tag}?requestId={request_id}", {})
    assert again.status_code == 409
    assert again.json()["params"]["err"] == "CONFLICT"
    assert again.json()["params"]["errmsg"] == (
        f"requestId: job '{request_id}' is not waiting to retry: it is SUCCESS"
    )
    unknown = daily.post(f"/api/exhaust/retry/{tag}?requestId=NOPE", {})
    assert unknown.status_code == 404
    assert unknown.json()["params"]["errmsg"] == f"requestId: no job 'NOPE' has the tag {tag!r}"


def test_a_waiting_job_runs_when_asked_from_the_command_line(daily: Served) -> None:
    tag, request_id = waiting(daily)
    # On the store serve holds (a process of its own, as a user's shell: that serve is in
    # this one): the jobs file is changed and serve is asked to run it.
    done = run_cli("exhaust", "retry", tag, request_id, "--store", str(daily.store))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["result"]["requestId"] == request_id
    job = ended(daily, tag, request_id)
    assert (job["status"], job["attempts"]) == ("SUCCESS", 2)
    # Through --url, a job that is not waiting: one line, exit status 1.
    refused = run_cli_here("exhaust", "retry", tag, request_id, "--url", daily.url)
    assert (refused.returncode, refused.stdout) == (1, ""), refused
    assert refused.stderr == (
        f"bot-telemetry: error: exhaust retry: requestId: job '{request_id}' is not waiting to "
        "retry: it is SUCCESS (CONFLICT)\n"
    )


def test_the_exhausts_page_retries_a_waiting_job(daily: Served, browser: Any) -> None:
    tag, request_id = waiting(daily)
    ui = Page(browser, daily.url, artifacts="exhausts")
    ui.fake_clock()
    page = ui.open(f"#/exhausts/{tag}")
    button = page.locator(".exhaust-jobs button.retry-now")
    button.wait_for()
    assert button.get_attribute("aria-label") == f"Retry job {request_id} now"
    ui.shot("exhaust-retry-waiting")
    button.click()
    followed_to_the_end(ui)
    assert page.locator(".job-status").all_text_contents() == ["SUCCESS"]
    assert page.locator(".exhaust-jobs button.retry-now").count() == 0
    job = read(daily, tag, request_id)
    assert (job["status"], job["attempts"]) == ("SUCCESS", 2)
    ui.close()


def test_on_a_store_no_serve_holds_the_command_runs_the_job_itself(tmp_path: Path) -> None:
    """cron's case (serve --exhaust-schedule off, or none running): the command makes the job
    due and runs it on the store, printing it as it ended."""
    store = tmp_path / "telemetry.duckdb"
    opened = Store.open(store)
    load_duckdb(opened, 200)  # answers from 2025-06-15 on
    opened.close()
    submitted = run_cli_here(
        "exhaust", "submit", "--store", str(store), "--dataset", "uci-response-exhaust",
        "--tag", "cron-retry", "--requested-by", "ops", "--channel", "ORG_9", "--bot", BOT,
        "--start", "2025-06-14", "--end", "2025-06-16",
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    request_id = json.loads(submitted.stdout)["result"]["requestId"]
    jobs = JobStore(tmp_path / "exhaust" / "jobs.sqlite3")
    assert jobs.claim("cron:1") is not None
    assert jobs.fail(request_id, "OSError: down", retry=True, holder="cron:1") is not None
    jobs.close()

    done = run_cli_here("exhaust", "retry", "cron-retry", request_id, "--store", str(store))
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)["result"]
    assert (job["status"], job["attempts"], job["retryAt"]) == ("SUCCESS", 2, None)
    assert len(job["downloadUrls"]) == 1
