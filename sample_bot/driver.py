"""A client for the channel simulator's driver API, used by the demo and the tests.

async with ChannelDriver("http://127.0.0.1:5103") as channel:
    conversation = await channel.start("user-1", "Ana")
    replies = await channel.say(conversation, "hi")
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import aiohttp


class DriverError(RuntimeError):
    pass


class ChannelDriver:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ChannelDriver:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        assert self._session is not None, "use ChannelDriver in 'async with'"
        async with self._session.post(self.base_url + path, json=body) as response:
            answer: dict[str, Any] = await response.json()
            if response.status >= 300:
                raise DriverError(f"channel answered {response.status} to {path}: {answer}")
            return answer

    async def start(self, user_id: str, user_name: str) -> str:
        """Open a conversation (the bot gets conversationUpdate); its id."""
        answer = await self._post(
            "/driver/conversations", {"userId": user_id, "userName": user_name}
        )
        return str(answer["conversationId"])

    async def say(self, conversation_id: str, text: str) -> list[dict[str, Any]]:
        """Send a message as the user; the bot's replies to it."""
        answer = await self._post(
            f"/driver/conversations/{conversation_id}/messages", {"text": text}
        )
        replies: list[dict[str, Any]] = answer["replies"]
        return replies

    async def replies(self, conversation_id: str) -> list[dict[str, Any]]:
        """Everything the bot has sent to the conversation so far."""
        assert self._session is not None, "use ChannelDriver in 'async with'"
        url = f"{self.base_url}/driver/conversations/{conversation_id}/replies"
        async with self._session.get(url) as response:
            if response.status != 200:
                raise DriverError(f"channel answered {response.status} for {conversation_id}")
            answer: dict[str, Any] = await response.json()
            return list(answer["replies"])
