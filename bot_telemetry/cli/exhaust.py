"""``bot-telemetry exhaust``: data exhaust jobs from a shell or cron, and serve's options.

    bot-telemetry exhaust submit --dataset uci-response-exhaust --tag T --requested-by me \\
        --channel C --bot bot --start 2025-06-01 --end 2025-06-30
    bot-telemetry exhaust status T REQUEST_ID      # the job, with fresh download links
    bot-telemetry exhaust list T --limit 5
    bot-telemetry exhaust run                      # run submitted jobs now (cron: daily)
    bot-telemetry exhaust retry T REQUEST_ID       # a job waiting to retry: run it now
    bot-telemetry exhaust audit                    # who downloaded what
    bot-telemetry exhaust vault-key                # a new key for BOT_TELEMETRY_VAULT_KEYS

They work on the jobs file in the exhaust folder (next to ``--store`` unless
``--exhaust-dir``), which ``serve`` shares; ``run`` reads the store, and while ``serve``
holds it asks ``serve`` to run them. ``--url`` sends everything to a running ``serve``'s API
instead. Answers are UCI's JSON envelopes, on stdout; an error answer is one line on stderr
instead (its errmsg and err), exit status 2 for a request refused as invalid, else 1 (a job
or tag not found, a token refused, serve down).
Links printed from the jobs file point at ``--base-url``, else the serve running on the store.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.parse
from pathlib import Path
from typing import Any

from ..analytics.window import parse_duration
from ..store.location import ClickHouseLocation
from .common import (
    CommandError,
    Handler,
    UsageError,
    described,
    duration_argument,
    limit_argument,
    remote_options,
    store_options,
)

#: Where serve answers by default, for links when neither --base-url nor a running serve says.
DEFAULT_BASE_URL = "http://127.0.0.1:4318"


def schedule_argument(text: str) -> str:
    from ..exhaust.schedule import Schedule

    try:
        return str(Schedule.parse(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def serve_options(parser: argparse.ArgumentParser) -> None:
    """``serve``'s exhaust options."""
    parser.add_argument(
        "--exhaust-dir",
        type=Path,
        default=None,
        help="the data exhausts' folder: jobs, files, link key (default: exhaust/ next to the "
        "store; with a ClickHouse store .bot-telemetry/exhaust under the working directory, "
        "so name one); serve prints the one it uses",
    )
    parser.add_argument(
        "--exhaust-schedule",
        type=schedule_argument,
        default="now",
        help="when submitted exhaust jobs run: now (default), daily@HH:MM (local time, as "
        "UCI's daily@02:00), or off (bot-telemetry exhaust run from cron)",
    )
    parser.add_argument(
        "--exhaust-link-expiry",
        type=duration_argument,
        default="30m",
        help="how long a download link works after each read (default 30m)",
    )


def serve_settings(options: argparse.Namespace) -> dict[str, Any]:
    """``ServerConfig``'s exhaust fields from ``serve_options``."""
    expiry = parse_duration(options.exhaust_link_expiry)
    if expiry <= 0:
        # serve started, and every link it signed had expired when it was read.
        raise UsageError(
            f"--exhaust-link-expiry {options.exhaust_link_expiry}: a link that expires at once "
            "cannot be used; give more than 0 (default 30m)"
        )
    return {
        "exhaust_dir": options.exhaust_dir,
        "exhaust_schedule": options.exhaust_schedule,
        "exhaust_expiry_seconds": expiry,
    }


def register(commands: Any) -> dict[str, Handler]:
    parser = commands.add_parser(
        "exhaust", help="data exhaust jobs (UCI response/private)", **described(__doc__)
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    # Each action's --help ends with the examples of them all, as `exhaust --help` does.
    examples = {key: value for key, value in described(__doc__).items() if key != "description"}

    submit = actions.add_parser(
        "submit", help="submit a job (the same request again: the job)", **examples
    )
    _common(submit)
    submit.add_argument(
        "--dataset",
        required=True,
        choices=("uci-response-exhaust", "uci-private-exhaust"),
        help="response: a row per answer to a prompt; private: a row per user, with their real "
        "id where they consented, in a ZIP encrypted with --encryption-key",
    )
    submit.add_argument("--tag", required=True, help="the request's tag (a UUID in UCI)")
    submit.add_argument("--requested-by", required=True, help="who asks (requestedBy)")
    submit.add_argument("--channel", required=True, help="requestedChannel")
    submit.add_argument(
        "--bot", required=True, help="the bot (UCI's conversationId): its service.name"
    )
    submit.add_argument("--start", required=True, help="startDate, yyyy-MM-dd")
    submit.add_argument("--end", required=True, help="endDate, yyyy-MM-dd (included)")
    submit.add_argument("--encryption-key", help="the ZIP's password (required for private)")

    status = actions.add_parser("status", help="a job, with fresh download links", **examples)
    _common(status)
    status.add_argument("tag", help="the tag the job was submitted with")
    status.add_argument("request_id", help="the requestId submit printed")

    listing = actions.add_parser("list", help="a tag's newest jobs", **examples)
    _common(listing)
    listing.add_argument("tag", help="the tag the jobs were submitted with")
    listing.add_argument(
        "--limit",
        type=limit_argument,
        default=10,
        help="at most this many jobs (default 10; 1 to 1000)",
    )

    run = actions.add_parser("run", help="run submitted jobs now", **examples)
    _common(run)

    retry = actions.add_parser(
        "retry",
        help="a job waiting to retry after a failed attempt: run it now, not after the wait",
        **examples,
    )
    _common(retry)
    retry.add_argument("tag", help="the tag the job was submitted with")
    retry.add_argument("request_id", help="the requestId submit printed")

    audit = actions.add_parser(
        "audit", help="the downloads of exhaust files, newest first", **examples
    )
    _common(audit)
    audit.add_argument("--request-id", help="only the downloads of this job")
    audit.add_argument(
        "--limit", type=limit_argument, default=50, help="at most this many (default 50)"
    )

    actions.add_parser(
        "vault-key", help="print a new identity vault key (base64, 256 bits)", **examples
    )
    return {"exhaust": _exhaust}


def _common(parser: argparse.ArgumentParser) -> None:
    store_options(parser, window=False)
    remote_options(parser)
    parser.add_argument(
        "--exhaust-dir",
        type=Path,
        default=None,
        help="the data exhausts' folder serve uses (default: exhaust/ next to the store)",
    )
    parser.add_argument(
        "--base-url",
        default=None,
        help="where serve answers, for the links to files in the local folder that status and "
        "list print without --url (default: the URL of the serve running on --store, else "
        f"{DEFAULT_BASE_URL})",
    )


def _exhaust(options: argparse.Namespace) -> int:
    if options.action == "vault-key":
        from ..privacy.vault import new_key

        print(new_key())
        return 0
    if options.url:
        status, answer = _remote(options)
    else:
        status, answer = _local(options)
    code = answer.get("responseCode") if isinstance(answer, dict) else None
    if status < 400 and code in (None, "OK"):
        print(json.dumps(answer, indent=2, ensure_ascii=False))
        return 0
    # An error answer fails the command (cron sees it) on stderr: stdout is for the data a
    # script reads, which an error envelope is not (a token refused answers no envelope).
    raise _refusal(options.action, status, answer)


def _refusal(action: str, status: int, answer: Any) -> CommandError:
    params = answer.get("params") if isinstance(answer, dict) else None
    if isinstance(params, dict) and params.get("errmsg"):
        said = f"{params['errmsg']} ({params.get('err') or answer.get('responseCode')})"
        invalid = params.get("err") == "INVALID_REQUEST"
    else:
        reason = answer.get("error") if isinstance(answer, dict) else None
        said = f"answered {status}: {reason or json.dumps(answer, ensure_ascii=False)}"
        invalid = False
    error = UsageError if invalid else CommandError
    return error(f"exhaust {action}: {said}")


def _submit_body(options: argparse.Namespace) -> dict[str, Any]:
    request: dict[str, Any] = {
        "dataset": options.dataset,
        "tag": options.tag,
        "requestedBy": options.requested_by,
        "requestedChannel": options.channel,
        "datasetConfig": {
            "type": options.dataset,
            "conversationId": options.bot,
            "startDate": options.start,
            "endDate": options.end,
        },
        "output_format": "csv",
    }
    if options.encryption_key:
        request["encryptionKey"] = options.encryption_key
    return {"id": "bot-telemetry.exhaust.submit", "ver": "1.0", "params": {}, "request": request}


def _local(options: argparse.Namespace) -> tuple[int, Any]:
    from ..exhaust import Exhaust, ExhaustSettings

    if isinstance(options.store, ClickHouseLocation) and options.exhaust_dir is None:
        raise UsageError(
            "the store is ClickHouse: name the exhaust folder serve uses with --exhaust-dir"
        )
    store_file = options.store if isinstance(options.store, Path) else None
    settings = ExhaustSettings.beside(store_file, options.exhaust_dir)
    if options.action == "run":
        return _run_local(options, settings)
    if store_file is not None and not store_file.exists() and not settings.folder.exists():
        # A mistyped --store: a job submitted there would wait for a runner that never
        # comes, status and list would say there is no such job.
        raise CommandError(
            f"no store at {store_file} and no exhaust folder at {settings.folder}: pass the "
            "--store serve uses (or its --exhaust-dir), or --url of the serve"
        )
    if options.action == "retry":
        return _retry_local(options, settings)
    exhaust = Exhaust(None, settings)  # submit, status, list and audit need no store
    base_url = _base_url(options)
    try:
        if options.action == "submit":
            return exhaust.submit(_submit_body(options), base_url=base_url)
        if options.action == "status":
            return exhaust.read(options.tag, options.request_id, base_url=base_url)
        if options.action == "list":
            return exhaust.list_jobs(options.tag, options.limit, base_url=base_url)
        trail = exhaust.jobs.audit_trail(options.request_id, options.limit)
        return 200, {"audit": [record.__dict__ for record in trail]}
    finally:
        exhaust.close()


def _base_url(options: argparse.Namespace) -> str:
    """Where the links to files in the local folder point: ``--base-url``, else the serve
    running on the store (its discovery file, if its process is alive), else the default."""
    if options.base_url:
        return str(options.base_url)
    if isinstance(options.store, Path):
        from ..web.discovery import discovery_path

        try:
            found = json.loads(discovery_path(options.store).read_text())
            url, pid = str(found["url"]), int(found["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return DEFAULT_BASE_URL
        if _alive(pid):
            return url
    return DEFAULT_BASE_URL


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_local(options: argparse.Namespace, settings: Any) -> tuple[int, Any]:
    from ..exhaust import Exhaust
    from ..exhaust.service import ran
    from ..store.database import StoreBusy
    from ..store.location import open_engine
    from ..web.discovery import discovery_path

    try:
        engine = open_engine(options.store)
    except StoreBusy as busy:
        # serve holds the store: it runs the jobs (its runner shares the jobs file).
        try:
            url = json.loads(discovery_path(options.store).read_text())["url"]
        except (OSError, ValueError, KeyError, TypeError):
            raise CommandError(f"{busy.held}, and no running serve says it holds it") from busy
        options.url = url
        return _remote(options)
    exhaust = Exhaust(engine, settings)
    try:
        return 200, ran(exhaust.run_pending())
    finally:
        exhaust.close()
        engine.close()


def _retry_local(options: argparse.Namespace, settings: Any) -> tuple[int, Any]:
    """The job made due in the jobs file, then run as ``run`` runs: here on the store, or by
    the serve holding it (asked through its API, which wakes its runner)."""
    from ..exhaust import Exhaust

    exhaust = Exhaust(None, settings)
    try:
        status, answer = exhaust.retry(options.tag, options.request_id)
    finally:
        exhaust.close()
    if status != 200:
        return status, answer
    status, ran_or_retried = _run_local(options, settings)
    if options.url:  # serve held the store: its answer is the job as it retries
        return status, ran_or_retried
    exhaust = Exhaust(None, settings)
    try:
        return exhaust.read(options.tag, options.request_id, base_url=_base_url(options))
    finally:
        exhaust.close()


def _remote(options: argparse.Namespace) -> tuple[int, Any]:
    base = options.url.rstrip("/")
    quote = urllib.parse.quote
    if options.action == "submit":
        return _call(options, "POST", f"{base}/dataset/v1/request/submit", _submit_body(options))
    if options.action == "status":
        query = urllib.parse.urlencode({"requestId": options.request_id})
        return _call(options, "GET", f"{base}/dataset/v1/request/read/{quote(options.tag)}?{query}")
    if options.action == "list":
        query = urllib.parse.urlencode({"limit": options.limit})
        return _call(options, "GET", f"{base}/dataset/v1/request/list/{quote(options.tag)}?{query}")
    if options.action == "run":
        return _call(options, "POST", f"{base}/api/exhaust/run", {})
    if options.action == "retry":
        query = urllib.parse.urlencode({"requestId": options.request_id})
        return _call(options, "POST", f"{base}/api/exhaust/retry/{quote(options.tag)}?{query}", {})
    raise UsageError("the audit trail is read from the exhaust folder: leave out --url")


def _call(options: argparse.Namespace, method: str, url: str, body: Any = None) -> tuple[int, Any]:
    """The HTTP status and the JSON answer."""
    # Here, not at the top: only the commands that call a server need an HTTP client.
    import urllib.error
    import urllib.request

    from .access import open_waiting

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if options.token:
        request.add_header("Authorization", f"Bearer {options.token}")
    try:
        with open_waiting(request, 600) as response:
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, answer = error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        raise CommandError(f"cannot reach {url}: {error}") from error
    try:
        return status, json.loads(answer)
    except ValueError:
        # Another web server at that address (the bot's, a web page's) answers HTML.
        raise CommandError(
            f"{url} answered {status} with no JSON: is --url the address `bot-telemetry serve` "
            "printed?"
        ) from None
