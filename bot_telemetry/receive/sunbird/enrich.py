"""Unbundle and enrich: what the collector adds to an event, as Sunbird's ingest does and more.

* ``fill_from_headers`` (before validation): ``context.did``, ``context.channel`` and
  ``context.pdata.id``/``pid`` from ``X-Device-ID``, ``X-Channel-ID`` and ``X-App-ID`` when the
  event lacks them, so a client may send its context once, in headers.
* ``Sessions``: a server-side session for events without ``context.sid``: one actor's events
  on one device with no gap longer than ``SESSION_GAP_SECONDS`` (the analytics vocabulary's).
* ``private_edata``: free text in ``edata`` (feedback comments, search terms, log messages,
  INTERACT's ``extra``) only when the privacy policy allows personal data, and then redacted.
* Actor and device ids are pseudonymised with the policy's key, the same as the bot's user
  ids, in ``rows.event_row``.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

from ...contract import CLIENT_FREE_TEXT, SESSION_GAP_SECONDS
from ...privacy import PrivacyPolicy

#: Users whose session is remembered; the least recently seen are forgotten first.
DEFAULT_MAX_SESSIONS = 100_000


def fill_from_headers(event: Any, device: str, channel: str, app: str) -> None:
    """Stamp the headers' context into ``event`` where it has none (in place)."""
    if type(event) is not dict or not (device or channel or app):
        return
    context = event.get("context")
    if context is None:
        context = event["context"] = {}
    elif type(context) is not dict:
        return  # validation says what is wrong with it
    if device and not context.get("did"):
        context["did"] = device
    if channel and not context.get("channel"):
        context["channel"] = channel
    if app:
        pdata = context.get("pdata")
        if pdata is None:
            context["pdata"] = {"id": app, "pid": app}
        elif type(pdata) is dict:
            if not pdata.get("id"):
                pdata["id"] = app
            if not pdata.get("pid"):
                pdata["pid"] = app


class Sessions:
    """Server-side session ids for events that came without one. Thread-safe.

    A session id is derived from the user, the device and the session's first ``ets``, so the
    same events give the same ids on any collector instance that saw them in order.
    """

    def __init__(
        self,
        gap_seconds: float = SESSION_GAP_SECONDS,
        *,
        max_users: int = DEFAULT_MAX_SESSIONS,
    ) -> None:
        self.gap_ms = gap_seconds * 1000
        self.max_users = max_users
        self._lock = threading.Lock()
        # (actor id, device id) -> (session id, last ets)
        self._open: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()

    def session_for(self, actor: str, device: str, ets: float) -> str:
        key = (actor, device)
        with self._lock:
            current = self._open.get(key)
            if current is not None and ets - current[1] <= self.gap_ms:
                session = current[0]
                last = max(ets, current[1])  # an event sent late stays in its session
                self._open.move_to_end(key)
            else:
                seed = f"{actor}\x1f{device}\x1f{ets!r}".encode()
                session = "srv-" + hashlib.blake2b(seed, digest_size=12).hexdigest()
                last = ets
            self._open[key] = (session, last)
            while len(self._open) > self.max_users:
                self._open.popitem(last=False)
        return session


def private_edata(eid: str, edata: dict[str, Any], policy: PrivacyPolicy) -> dict[str, Any]:
    """``edata`` with its free-text fields dropped, or redacted when the policy allows text."""
    fields = CLIENT_FREE_TEXT.get(eid)
    if not fields or not any(name in edata for name in fields):
        return edata
    kept = dict(edata)
    for name in fields:
        if name not in kept:
            continue
        if policy.log_personal_information and policy.allows(f"edata.{name}"):
            kept[name] = _redacted(kept[name], policy)
        else:
            del kept[name]
    return kept


def _redacted(value: Any, policy: PrivacyPolicy) -> Any:
    if isinstance(value, str):
        return policy.redact_text(value)[: policy.max_value_length]
    if isinstance(value, dict):
        return {key: _redacted(item, policy) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item, policy) for item in value]
    return value
