"""What the sample bot is told, whichever runtime it runs on."""

from __future__ import annotations

from dataclasses import dataclass

#: The bot runs on botbuilder-python or on the Microsoft 365 Agents SDK.
RUNTIMES = ("botbuilder", "agents")
#: Set: state goes to Azure Blob Storage (Azurite too) instead of memory.
CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
CONTAINER_ENV = "AZURE_STORAGE_CONTAINER"


@dataclass(frozen=True)
class BotSettings:
    nlu_url: str = "http://127.0.0.1:5101"
    qna_url: str = "http://127.0.0.1:5102"
    w3c_test_route: bool = False
