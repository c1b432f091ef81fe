"""The demo's scripted conversations: what users do, from happy paths to walking away.

Conversation ``i`` plays ``SCRIPTS[i % len(SCRIPTS)]``, so a run of N conversations is
the same every time. Every booking starts with the consent question: Ana, Eve and Gus say
yes (their answers are kept, their contact id goes into the identity vault), Cleo and Finn
say no.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Script:
    name: str
    user_name: str
    messages: tuple[str, ...]


SCRIPTS: tuple[Script, ...] = (
    Script(
        "booking in one go",
        "Ana",
        ("hi", "book a table for 4 on friday", "yes", "Ana", "yes", "thanks, bye"),
    ),
    Script(
        "questions answered",
        "Ben",
        ("when are you open?", "do you have parking?", "can I pay by card?"),
    ),
    Script(
        "booking step by step",
        "Cleo",
        ("I'd like to make a reservation", "no", "saturday", "2", "Cleo", "yes"),
    ),
    Script(
        "unknown intents and Q&A misses",
        "Dan",
        ("what is the meaning of life", "tell me a joke", "do you have vegetarian options?"),
    ),
    Script("abandoned booking", "Eve", ("book a table", "yes", "tomorrow")),
    Script("cancelled booking", "Finn", ("reserve a table for 2", "no", "sunday", "cancel")),
    Script(
        "help in the middle of a booking",
        "Gus",
        ("hello", "book a table", "yes", "help", "sunday", "6", "Gus", "no"),
    ),
    Script("asks and leaves", "Hana", ("are pets allowed?", "what is the wifi password?")),
)


def script_for(index: int) -> Script:
    return SCRIPTS[index % len(SCRIPTS)]
