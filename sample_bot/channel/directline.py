"""A Direct Line 3.0-compatible endpoint on the channel simulator, and the web chat page on it.

Bot Framework Web Chat (``botframework-webchat``, its DirectLineJS client) talks to it as to
Azure's Direct Line service: start a conversation, post activities, receive activities by
polling or over a WebSocket. Each conversation is one of the simulator's, so the bot sees the
channel's usual activities and ids, and the transcript Web Chat reads has the same ids the bot
saw (Web Chat holds a reply whose ``replyToId`` it cannot find for 5 s).

    POST /webchat/token                                  {token, userId}: the page's credential
    POST /v3/directline/tokens/refresh                   a fresh token for the same conversation
    POST /v3/directline/conversations                    201 {conversationId, token, streamUrl}
    GET  /v3/directline/conversations/{id}?watermark=W   reconnect: a new token and streamUrl
    POST /v3/directline/conversations/{id}/activities    {id}, once the bot has taken it
    GET  /v3/directline/conversations/{id}/activities?watermark=W   {activities, watermark}
    GET  /v3/directline/conversations/{id}/stream?t=TOKEN           WebSocket of activity sets
    GET  /webchat/                                       the page (strict CSP, a style nonce)

Every Direct Line call needs ``Authorization: Bearer TOKEN`` (the stream: ``?t=TOKEN``); an
unknown or expired token is a 403, which DirectLineJS reads as "token expired".
"""

from __future__ import annotations

import html
import json
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from .simulator import MAX_CONVERSATIONS, MAX_TEXT_LENGTH, BotUnavailable, ChannelSimulator

TOKEN_SECONDS = 1800  # as Direct Line's tokens
#: The channelId Azure's Direct Line gives Web Chat's activities: botbuilder and the Agents SDK
#: draw a prompt's choices as buttons on it, and as '(1) Yes or (2) No' text on a channel they
#: do not know (the simulator's own).
WEBCHAT_CHANNEL = "webchat"
WEBCHAT_DIR = Path(__file__).resolve().parents[1] / "webchat"
#: The files the page loads: ours (static/) and the bundles scripts/build-webchat makes (dist/).
PAGE_FILES = {
    "static": {"app.js": "text/javascript", "page.css": "text/css"},
    "dist": {
        "webchat.js": "text/javascript",
        "otel.js": "text/javascript",
        "sunbird.js": "text/javascript",
    },
}
#: react-scroll-to-bottom (inside webchat.js) adds one empty <style> without the nonce; this is
#: the hash of the empty string, so exactly that is allowed and nothing else.
EMPTY_STYLE_HASH = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#: Fields a client's activity keeps; ids, parties, channel and times are the channel's own.
CLIENT_FIELDS = (
    "text",
    "textFormat",
    "attachments",
    "entities",
    "channelData",
    "name",
    "value",
    "valueType",
    "locale",
    "localTimestamp",
    "localTimezone",
    "inputHint",
    "speak",
)


@dataclass
class _Transcript:
    """What Web Chat reads: the user's activities (echoed back) and the bot's, in order."""

    activities: list[dict[str, Any]] = field(default_factory=list)
    sockets: set[web.WebSocketResponse] = field(default_factory=set)


@dataclass(frozen=True)
class _Grant:
    user_id: str
    conversation_id: str | None
    expires: float


class DirectLine:
    """Direct Line state on top of a ``ChannelSimulator``."""

    def __init__(self, simulator: ChannelSimulator, collector_url: str) -> None:
        self.simulator = simulator
        self.collector_url = collector_url.rstrip("/")
        self._grants: dict[str, _Grant] = {}
        self._transcripts: OrderedDict[str, _Transcript] = OrderedDict()
        self._last_ms = 0
        simulator.observers.append(self._from_bot)

    # -- tokens ------------------------------------------------------------------------------

    def issue(self, user_id: str, conversation_id: str | None) -> dict[str, Any]:
        now = time.time()
        for token in [t for t, grant in self._grants.items() if grant.expires < now]:
            del self._grants[token]
        token = secrets.token_urlsafe(24)
        self._grants[token] = _Grant(user_id, conversation_id, now + TOKEN_SECONDS)
        issued: dict[str, Any] = {"token": token, "expires_in": TOKEN_SECONDS}
        if conversation_id:
            issued["conversationId"] = conversation_id
        return issued

    def grant(self, request: web.Request, conversation_id: str | None = None) -> _Grant:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.startswith("Bearer ") else request.query.get("t")
        if not token:
            raise _refusal(401, "Unauthorized", "send Authorization: Bearer TOKEN")
        found = self._grants.get(token)
        if found is None or found.expires < time.time():
            raise _refusal(403, "TokenExpired", "the token is unknown or expired")
        if conversation_id is not None and found.conversation_id != conversation_id:
            raise _refusal(403, "Forbidden", "the token is for another conversation")
        return found

    # -- transcripts -------------------------------------------------------------------------

    def transcript(self, conversation_id: str) -> _Transcript:
        found = self._transcripts.get(conversation_id)
        if found is None:
            raise _refusal(404, "BadArgument", "Conversation not found")
        return found

    def _timestamp(self) -> str:
        # Web Chat orders by timestamp: never two the same, never going back.
        ms = max(time.time_ns() // 1_000_000, self._last_ms + 1)
        self._last_ms = ms
        moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    async def append(self, conversation_id: str, activity: dict[str, Any]) -> dict[str, Any]:
        transcript = self.transcript(conversation_id)
        stored = {**activity, "timestamp": self._timestamp()}
        transcript.activities.append(stored)
        activity_set = {
            "activities": [stored],
            "watermark": str(len(transcript.activities) - 1),
        }
        for socket in list(transcript.sockets):
            if not socket.closed:
                await socket.send_json(activity_set)
        return stored

    async def _from_bot(self, conversation_id: str, activity: dict[str, Any]) -> None:
        if conversation_id in self._transcripts:
            sender = {**(activity.get("from") or self.simulator.bot), "role": "bot"}
            await self.append(conversation_id, {**activity, "from": sender})

    def open(self, user_id: str) -> str:
        conversation_id = self.simulator.open_conversation(user_id, "Web user", WEBCHAT_CHANNEL)
        self._transcripts[conversation_id] = _Transcript()
        while len(self._transcripts) > MAX_CONVERSATIONS:
            self._transcripts.popitem(last=False)
        return conversation_id

    def activities_after(self, conversation_id: str, watermark: str) -> dict[str, Any]:
        activities = self.transcript(conversation_id).activities
        start = int(watermark) + 1 if watermark.isdigit() else 0
        return {
            "activities": activities[start:],
            "watermark": str(len(activities) - 1) if activities else (watermark or None),
        }


DIRECT_LINE_KEY = web.AppKey("direct_line", DirectLine)


def _refusal(status: int, code: str, message: str) -> web.HTTPException:
    kinds: dict[int, type[web.HTTPException]] = {
        400: web.HTTPBadRequest,
        401: web.HTTPUnauthorized,
        403: web.HTTPForbidden,
        404: web.HTTPNotFound,
        502: web.HTTPBadGateway,
    }
    body = json.dumps({"error": {"code": code, "message": message}})
    return kinds[status](text=body, content_type="application/json")


def _stream_url(request: web.Request, conversation_id: str, token: str, watermark: str) -> str:
    scheme = "wss" if request.scheme == "https" else "ws"
    return (
        f"{scheme}://{request.host}/v3/directline/conversations/{conversation_id}/stream"
        f"?watermark={watermark or '-'}&t={token}"
    )


# -- handlers ----------------------------------------------------------------------------------


async def page_token(request: web.Request) -> web.Response:
    """What a site's own backend does with its Direct Line secret: a token for one page."""
    line = request.app[DIRECT_LINE_KEY]
    user_id = f"webchat-{secrets.token_hex(5)}"
    return web.json_response({**line.issue(user_id, None), "userId": user_id})


async def refresh(request: web.Request) -> web.Response:
    line = request.app[DIRECT_LINE_KEY]
    grant = line.grant(request)
    return web.json_response(line.issue(grant.user_id, grant.conversation_id))


async def start(request: web.Request) -> web.Response:
    line = request.app[DIRECT_LINE_KEY]
    grant = line.grant(request)
    if grant.conversation_id is not None:  # already started with this token
        issued = line.issue(grant.user_id, grant.conversation_id)
        url = _stream_url(request, grant.conversation_id, issued["token"], "-")
        return web.json_response({**issued, "streamUrl": url})
    conversation_id = line.open(grant.user_id)
    try:
        # Web Chat never sends conversationUpdate: the channel does, as Direct Line does.
        await line.simulator.greet(conversation_id)
    except BotUnavailable as error:
        raise _refusal(502, "BotUnavailable", str(error)) from error
    issued = line.issue(grant.user_id, conversation_id)
    url = _stream_url(request, conversation_id, issued["token"], "-")
    return web.json_response({**issued, "streamUrl": url}, status=201)


async def reconnect(request: web.Request) -> web.Response:
    line = request.app[DIRECT_LINE_KEY]
    conversation_id = request.match_info["conversation_id"]
    grant = line.grant(request, conversation_id)
    line.transcript(conversation_id)
    issued = line.issue(grant.user_id, conversation_id)
    watermark = request.query.get("watermark", "-")
    url = _stream_url(request, conversation_id, issued["token"], watermark)
    return web.json_response({**issued, "streamUrl": url})


async def post_activity(request: web.Request) -> web.Response:
    line = request.app[DIRECT_LINE_KEY]
    conversation_id = request.match_info["conversation_id"]
    line.grant(request, conversation_id)
    line.transcript(conversation_id)
    try:
        sent = await request.json()
    except (ValueError, UnicodeDecodeError) as error:
        raise _refusal(400, "BadArgument", "the body must be a JSON activity") from error
    if not isinstance(sent, dict) or not isinstance(sent.get("type"), str):
        raise _refusal(400, "MissingProperty", "the activity needs a type")
    text = sent.get("text")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_TEXT_LENGTH):
        raise _refusal(400, "BadArgument", f"text must be at most {MAX_TEXT_LENGTH} characters")
    fields = {name: sent[name] for name in CLIENT_FIELDS if name in sent}
    activity = line.simulator.user_activity(conversation_id, {"type": sent["type"], **fields})
    # Echo it back first, with the id the bot sees: Web Chat shows "Send failed" for an
    # activity that never comes back, and waits for the one a reply answers.
    stored = await line.append(conversation_id, activity)
    try:
        await line.simulator.post_activity(activity)
    except BotUnavailable as error:
        raise _refusal(502, "BotUnavailable", str(error)) from error
    return web.json_response({"id": stored["id"]})


async def get_activities(request: web.Request) -> web.Response:
    line = request.app[DIRECT_LINE_KEY]
    conversation_id = request.match_info["conversation_id"]
    line.grant(request, conversation_id)
    return web.json_response(
        line.activities_after(conversation_id, request.query.get("watermark", ""))
    )


async def stream(request: web.Request) -> web.StreamResponse:
    line = request.app[DIRECT_LINE_KEY]
    conversation_id = request.match_info["conversation_id"]
    line.grant(request, conversation_id)
    transcript = line.transcript(conversation_id)
    socket = web.WebSocketResponse(heartbeat=None)
    await socket.prepare(request)
    backlog = line.activities_after(conversation_id, request.query.get("watermark", "-"))
    if backlog["activities"]:  # e.g. the welcome, sent before the socket opened
        await socket.send_json(backlog)
    transcript.sockets.add(socket)
    try:
        async for message in socket:  # DirectLineJS sends "" now and then as a ping
            if message.type == WSMsgType.ERROR:
                break
    finally:
        transcript.sockets.discard(socket)
    return socket


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="webchat-nonce" content="{nonce}">
<title>Corner Bistro — web chat</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/webchat/static/page.css">
<script src="/webchat/dist/webchat.js"></script>
<script src="/webchat/dist/otel.js"></script>
<script src="/webchat/dist/sunbird.js"></script>
<script src="/webchat/static/app.js" defer></script>
</head>
<body data-collector="{collector}" data-channel="{channel}">
<header>Corner Bistro — chat with the sample bot</header>
<main id="webchat"></main>
</body></html>
"""

NOT_BUILT = (
    "The web chat page is not built: run `bash scripts/build-webchat` (needs Node.js and npm; "
    "`make demo` runs it)."
)


async def page(request: web.Request) -> web.Response:
    line = request.app[DIRECT_LINE_KEY]
    if not (WEBCHAT_DIR / "dist" / "webchat.js").is_file():
        return web.Response(status=503, text=NOT_BUILT)
    nonce = secrets.token_urlsafe(16)
    collector = line.collector_url
    policy = (
        "default-src 'none'; script-src 'self'; "
        f"style-src 'self' 'nonce-{nonce}' '{EMPTY_STYLE_HASH}'; "
        f"connect-src 'self' ws://{request.host} {collector}; "
        "img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' blob:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    text = PAGE.format(
        nonce=nonce,
        collector=html.escape(collector),
        channel=html.escape(WEBCHAT_CHANNEL),
    )
    headers = {"Content-Security-Policy": policy, "Cache-Control": "no-store"}
    return web.Response(text=text, content_type="text/html", headers=headers)


async def page_file(request: web.Request) -> web.StreamResponse:
    folder, name = request.match_info["folder"], request.match_info["name"]
    content_type = PAGE_FILES.get(folder, {}).get(name)
    path = WEBCHAT_DIR / folder / name
    if content_type is None or not path.is_file():
        raise web.HTTPNotFound(text=f"no file {folder}/{name}")
    return web.FileResponse(path, headers={"Content-Type": content_type})


def add_directline_routes(
    app: web.Application, simulator: ChannelSimulator, collector_url: str
) -> DirectLine:
    """Direct Line 3.0 and the web chat page on the channel's app."""
    line = DirectLine(simulator, collector_url)
    app[DIRECT_LINE_KEY] = line
    base = "/v3/directline"
    app.router.add_post("/webchat/token", page_token)
    app.router.add_post(f"{base}/tokens/refresh", refresh)
    app.router.add_post(f"{base}/conversations", start)
    app.router.add_get(f"{base}/conversations/{{conversation_id}}", reconnect)
    activities = f"{base}/conversations/{{conversation_id}}/activities"
    app.router.add_post(activities, post_activity)
    app.router.add_get(activities, get_activities)
    app.router.add_get(f"{base}/conversations/{{conversation_id}}/stream", stream)
    app.router.add_get("/webchat/", page)
    app.router.add_get("/webchat/{folder}/{name}", page_file)
    return line
