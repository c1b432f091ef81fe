"""One aiohttp session per bot process for its calls to nlu and qna.

Created on first use, inside the running loop and after ``instrument_aiohttp_client``,
so every call it makes is traced; closed with the app.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=10)


class SharedSession:
    def __init__(self, timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT) -> None:
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self, _: web.Application | None = None) -> None:
        if self._session is not None:
            await self._session.close()


class ServiceError(RuntimeError):
    """A local service answered with an error or could not be reached."""
