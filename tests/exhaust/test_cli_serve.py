"""``bot-telemetry exhaust`` beside a running ``bot-telemetry serve --token``, as a shell or
cron uses them: every error answer fails the command (a refused token too), ``run`` names a
job's message as the API does whether it runs on the store or through serve, and ``status``
on the store links to where that serve answers."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from benchmarks.exhaust import BOT, load_duckdb
from bot_telemetry.cli.common import TOKEN_VARIABLE
from bot_telemetry.store.database import Store
from tests.support.ports import free_port
from tests.support.processes import run_cli_here, running

TOKEN = "exhaust-cli-token-0123456789"
ROWS = 300


@dataclass
class Serving:
    url: str
    store: Path


@dataclass
class Ran:
    code: int
    answer: Any
    stderr: str


def cli(*arguments: str) -> Ran:
    """``bot-telemetry exhaust ...`` through main() in this process (run_cli_here: serve is
    the process of its own here), with no token in the environment (only a ``--token``
    given here)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(TOKEN_VARIABLE, raising=False)
        done = run_cli_here("exhaust", *arguments)
    answer = json.loads(done.stdout) if done.stdout.strip() else None
    return Ran(done.returncode, answer, done.stderr)


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serving]:
    store = tmp_path_factory.mktemp("exhaust-cli-serve") / "telemetry.duckdb"
    opened = Store.open(store)
    load_duckdb(opened, ROWS)  # answers from 2025-06-15 on
    opened.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["-m", "bot_telemetry.cli", "serve", "--port", str(port), "--store", str(store)]
    # off: jobs run only when asked (exhaust run), so each test knows what ran
    args += ["--token", TOKEN, "--no-grpc", "--exhaust-schedule", "off"]
    with running(args, ready_url=f"{url}/api/health"):
        yield Serving(url, store)


def submit(serving: Serving, tag: str, *extra: str, bot: str = BOT) -> Ran:
    return cli(
        "submit",
        *extra,
        "--dataset",
        "uci-response-exhaust",
        "--tag",
        tag,
        "--requested-by",
        "ops",
        "--channel",
        "ORG_9",
        "--bot",
        bot,
        "--start",
        "2025-06-14",
        "--end",
        "2025-06-20",
    )


def test_every_error_answer_fails_the_command_a_refused_token_too(serving: Serving) -> None:
    """An error is one line on stderr, nothing on stdout (a script reading the data there
    read the error envelope as if it were some), exit status 1 (2 for an invalid request)."""
    refused = submit(serving, "no-token", "--url", serving.url)
    assert (refused.code, refused.answer) == (1, None)
    assert refused.stderr == (
        "bot-telemetry: error: exhaust submit: answered 401: missing or wrong token: send "
        "Authorization: Bearer TOKEN\n"
    )
    wrong = submit(serving, "no-token", "--url", serving.url, "--token", "not-the-token")
    assert (wrong.code, wrong.answer) == (1, None) and "answered 401" in wrong.stderr
    # run on the store, which serve holds: it asks serve, which refuses it without the token
    ran = cli("run", "--store", str(serving.store))
    assert (ran.code, ran.answer) == (1, None) and "answered 401" in ran.stderr, ran.stderr
    status = cli("status", "no-token", "0" * 32, "--url", serving.url, "--token", TOKEN)
    assert (status.code, status.answer) == (1, None)
    assert status.stderr.endswith("(RESOURCE_NOT_FOUND)\n"), status.stderr
    accepted = submit(serving, "with-token", "--url", serving.url, "--token", TOKEN)
    assert (accepted.code, accepted.answer["responseCode"]) == (0, "OK")
    # the answer on the jobs file for what serve refused: nothing was submitted
    listed = cli("list", "no-token", "--store", str(serving.store))
    assert (listed.code, listed.answer) == (1, None)
    assert listed.stderr == (
        "bot-telemetry: error: exhaust list: tag: no job has the tag 'no-token' "
        "(RESOURCE_NOT_FOUND)\n"
    )
    invalid = submit(serving, "bad-dates", "--url", serving.url, "--token", TOKEN, bot="")
    assert (invalid.code, invalid.answer) == (2, None), invalid.stderr
    assert invalid.stderr.startswith("bot-telemetry: error: exhaust submit: request.")
    assert invalid.stderr.endswith("(INVALID_REQUEST)\n"), invalid.stderr


def test_run_through_serve_names_the_message_statusMessage(serving: Serving) -> None:
    where = ["--url", serving.url, "--token", TOKEN]
    found = submit(serving, "run-names", *where).answer["result"]["requestId"]
    nothing = submit(serving, "run-names-empty", *where, bot="nobody").answer["result"]
    ran = cli("run", "--store", str(serving.store), "--token", TOKEN)
    assert ran.code == 0, ran.stderr
    by_id = {job["requestId"]: job for job in ran.answer["ran"]}  # other tests' jobs too
    assert by_id[found] == {"requestId": found, "status": "SUCCESS", "statusMessage": ""}
    assert by_id[nothing["requestId"]] == {
        "requestId": nothing["requestId"],
        "status": "FAILED",
        "statusMessage": "No data found",
    }


def test_status_on_the_store_links_to_the_serve_running_on_it(serving: Serving) -> None:
    submitted = submit(serving, "links-here", "--store", str(serving.store))
    assert submitted.code == 0, submitted.stderr
    request_id = submitted.answer["result"]["requestId"]
    assert cli("run", "--store", str(serving.store), "--token", TOKEN).code == 0
    status = cli("status", "links-here", request_id, "--store", str(serving.store))
    assert status.code == 0 and status.answer["result"]["status"] == "SUCCESS"
    (url,) = status.answer["result"]["downloadUrls"]
    assert url.startswith(f"{serving.url}/dataset/v1/download/"), url
    download = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert download.status_code == 200, download.text
    assert len(list(csv.reader(io.StringIO(download.text)))) == ROWS + 1
    # where serve is reached from elsewhere (a proxy): --base-url says so
    named = cli(
        "status",
        "links-here",
        request_id,
        "--store",
        str(serving.store),
        "--base-url",
        "https://exhausts.example.org/",
    )
    (url,) = named.answer["result"]["downloadUrls"]
    assert url.startswith("https://exhausts.example.org/dataset/v1/download/"), url
