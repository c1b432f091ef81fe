from __future__ import annotations

import asyncio

import pytest

from bot_telemetry.receive.sunbird.dedup import DedupWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_repeated_in_one_request_is_a_duplicate() -> None:
    window = DedupWindow(60)
    assert window.classify(["a", "b", "a"]) == ([0, 1], 1, set())


def test_committed_keys_are_duplicates_until_the_window_passes() -> None:
    clock = Clock()
    window = DedupWindow(60, clock=clock)
    window.commit(window.reserve(["a"]))
    assert window.classify(["a", "b"])[:2] == ([1], 1)
    clock.now += 59
    assert window.is_duplicate("a")
    clock.now += 2
    assert not window.is_duplicate("a")
    assert window.classify(["a"])[:2] == ([0], 0)
    assert len(window) == 0


def test_keys_held_by_a_writer_make_others_wait_and_a_release_frees_them() -> None:
    window = DedupWindow(60)
    ticket = window.reserve(["a"])
    new, duplicates, busy = window.classify(["a", "b"])
    assert (new, duplicates, busy) == ([1], 0, {ticket})
    window.release(ticket)
    assert ticket.done.is_set()
    assert window.classify(["a"])[:2] == ([0], 0)


def test_a_zero_window_remembers_nothing() -> None:
    window = DedupWindow(0)
    window.commit(window.reserve(["a"]))
    assert not window.is_duplicate("a")


def test_memory_is_bounded_oldest_forgotten_first() -> None:
    window = DedupWindow(60, max_keys=2)
    for key in "abc":
        window.commit(window.reserve([key]))
    assert len(window) == 2 and window.forgotten == 1
    assert not window.is_duplicate("a") and window.is_duplicate("c")


def test_negative_window_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        DedupWindow(-1)


async def test_waiters_wake_when_the_writer_commits() -> None:
    window = DedupWindow(60)
    ticket = window.reserve(["a"])
    waiter = asyncio.create_task(ticket.done.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    window.commit(ticket)
    await asyncio.wait_for(waiter, 1)
    assert window.classify(["a"])[:2] == ([], 1)
