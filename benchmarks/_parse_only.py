"""The baseline for ``benchmarks.client_events``: an aiohttp server that reads a bundle, parses
its JSON and answers as the real endpoint does, storing nothing.

    python -m benchmarks._parse_only --port 4399

It parses with the pipeline's own function (``receive.sunbird.ingest.load_json``: orjson, or
json with the pipeline's hooks where orjson would read otherwise), so the baseline and the
pipeline pay the same for parsing and the share measures everything else; it writes its
answer with orjson, as the endpoint does.
"""

from __future__ import annotations

import argparse
import time

import orjson
from aiohttp import web

from bot_telemetry.receive.sunbird.ingest import load_json


async def telemetry(request: web.Request) -> web.Response:
    bundle = load_json(await request.read())
    events = len(bundle["events"])
    answer = {
        "id": "api.telemetry",
        "ver": "1.0",
        "ets": time.time_ns() // 1_000_000,
        "params": {"status": "successful"},
        "responseCode": "SUCCESS",
        "result": {"received": events},
    }
    # Written by orjson, as the real endpoint writes its answer.
    return web.Response(body=orjson.dumps(answer), content_type="application/json", charset="utf-8")


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/v1/telemetry", telemetry)
    app.router.add_get("/api/health", health)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
