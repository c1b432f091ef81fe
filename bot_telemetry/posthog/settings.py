"""Where events go in PostHog and which ones, from ``POSTHOG_*`` variables or in code.

settings = PostHogSettings.from_environment()     # None unless POSTHOG_API_KEY is set
settings = PostHogSettings(api_key="phc_...", host="https://eu.i.posthog.com",
                           include=("BotMessage*", "LuisIntent.*"))
"""

from __future__ import annotations

import fnmatch
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..contract import EXHAUST_DOWNLOADED

_log = logging.getLogger(__name__)

API_KEY_ENV = "POSTHOG_API_KEY"
HOST_ENV = "POSTHOG_HOST"
INCLUDE_ENV = "POSTHOG_EVENTS"
EXCLUDE_ENV = "POSTHOG_EXCLUDE_EVENTS"
PERSON_PROFILES_ENV = "POSTHOG_PERSON_PROFILES"
FORWARD_ENV = "POSTHOG_FORWARD"
TIMEOUT_ENV = "POSTHOG_TIMEOUT"
RETRY_SECONDS_ENV = "POSTHOG_RETRY_SECONDS"

#: PostHog Cloud (US) ingestion, the official client's default too.
DEFAULT_HOST = "https://us.i.posthog.com"
#: What ``serve`` forwards: stored events; everything (spans and plain log records too); none.
FORWARD_MODES = ("events", "all", "off")
PERSON_PROFILE_MODES = ("never", "always")
#: Events never sent, whatever the patterns: serve's audit of data export downloads (who
#: fetched which file, from which address) is an operator's trail, kept in the jobs file and
#: the store, not product analytics for a third party.
NEVER_SENT = frozenset({EXHAUST_DOWNLOADED})
#: How many event names a filter remembers its decision for (names are few; ids are not).
_REMEMBERED_NAMES = 1024


@dataclass(frozen=True)
class PostHogSettings:
    """A PostHog project and what to send it.

    ``include`` / ``exclude`` are event names or shell-style patterns (``LuisIntent.*``);
    an event goes if it matches ``include`` (default: every event) and not ``exclude``.
    ``person_profiles="always"`` lets PostHog create a person per distinct id; by default
    events carry ``$process_person_profile: false`` (our users are pseudonymous).
    """

    api_key: str
    host: str = DEFAULT_HOST
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()
    person_profiles: str = "never"
    forward: str = "events"
    timeout_seconds: float = 10.0
    #: How long one batch may keep being retried (429, 5xx, network errors) before it is
    #: dropped and counted.
    retry_seconds: float = 30.0
    _decisions: dict[str, bool] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        if not self.api_key.strip():
            raise ValueError("a PostHog project API key is needed (POSTHOG_API_KEY)")
        if not re.match(r"^https?://[^/\s]+", self.host):
            raise ValueError(
                f"POSTHOG_HOST={self.host!r} is not an http(s) URL such as {DEFAULT_HOST}"
            )
        if self.person_profiles not in PERSON_PROFILE_MODES:
            raise ValueError(
                f"{PERSON_PROFILES_ENV}={self.person_profiles!r}: use one of "
                f"{', '.join(PERSON_PROFILE_MODES)}"
            )
        if self.forward not in FORWARD_MODES:
            modes = ", ".join(FORWARD_MODES)
            raise ValueError(f"{FORWARD_ENV}={self.forward!r}: use one of {modes}")
        object.__setattr__(self, "host", self.host.rstrip("/"))

    @property
    def batch_url(self) -> str:
        return f"{self.host}/batch/"

    def wants(self, name: str) -> bool:
        """Whether events of this name go to PostHog (include, then exclude; never the
        events of ``NEVER_SENT``)."""
        decision = self._decisions.get(name)
        if decision is None:
            decision = (
                name not in NEVER_SENT
                and _matches(name, self.include)
                and not _matches(name, self.exclude)
            )
            if len(self._decisions) < _REMEMBERED_NAMES:
                self._decisions[name] = decision
        return decision

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> PostHogSettings | None:
        """Settings from ``POSTHOG_*`` variables; None when ``POSTHOG_API_KEY`` is not set.

        A bad value is a ``ValueError`` naming the variable.
        """
        env = os.environ if environ is None else environ
        key = env.get(API_KEY_ENV, "").strip()
        if not key:
            return None
        return cls(
            api_key=key,
            host=env.get(HOST_ENV, "").strip() or DEFAULT_HOST,
            include=_patterns(env.get(INCLUDE_ENV, "")) or ("*",),
            exclude=_patterns(env.get(EXCLUDE_ENV, "")),
            person_profiles=env.get(PERSON_PROFILES_ENV, "").strip().lower() or "never",
            forward=env.get(FORWARD_ENV, "").strip().lower() or "events",
            timeout_seconds=_seconds(env, TIMEOUT_ENV, 10.0, positive=True),
            retry_seconds=_seconds(env, RETRY_SECONDS_ENV, 30.0),
        )


def _patterns(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _seconds(
    env: Mapping[str, str], variable: str, default: float, *, positive: bool = False
) -> float:
    raw = env.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{variable}={raw!r} is not a number of seconds") from None
    if not math.isfinite(value):
        # inf retried a failing batch for ever; nan made every request fail.
        raise ValueError(f"{variable}={raw!r} is not a number of seconds, such as {default:g}")
    if value < 0:
        raise ValueError(f"{variable}={raw!r} must not be negative")
    if positive and value == 0:
        # requests refuses a timeout of 0: every request would fail.
        raise ValueError(f"{variable}={raw!r} must be more than 0 seconds")
    return value
