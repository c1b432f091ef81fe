"""The exhaust files: UCI's CSV layouts, written a batch of rows at a time (never the whole
answer in memory), and the AES-encrypted ZIP the private exhaust is delivered in.

``zipfile`` only writes ZipCrypto, which is broken; ``pyzipper`` writes WinZip AES-256
(read by 7-Zip, WinZip, macOS's Archive Utility with a password, and ``pyzipper`` itself).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from ..privacy import IdentityVault
from ..store.engine import Result

RESPONSE_HEADERS: Final = (
    "Message ID",
    "Conversation ID",
    "Conversation Name",
    "Device ID",
    "Session ID",
    "Question Id",
    "Question Type",
    "Question Title",
    "Question Description",
    "Question Duration",
    "Question Score",
    "Question Max Score",
    "Question Options",
    "Question Response",
    "X Path",
    "Eof",
    "Timestamp",
)
PRIVATE_HEADERS: Final = (
    "Conversation ID",
    "Conversation Name",
    "Decrypted Device ID",
    "Encrypted Device ID",
    "Device UUID",
)


def timestamp(time_ns: int) -> str:
    """ISO 8601 in UTC with milliseconds: ``2025-06-15T14:13:20.123Z``."""
    return f"{_second(time_ns // 1_000_000_000)}.{time_ns // 1_000_000 % 1000:03d}Z"


@lru_cache(maxsize=4096)
def _second(epoch_seconds: int) -> str:
    # Rows come in time order, many to a second: strftime once per second, not per row.
    return dt.datetime.fromtimestamp(epoch_seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


@lru_cache(maxsize=8192)
def seconds(milliseconds: Any) -> str:
    """A duration in ms (text or number) as seconds with millisecond precision: ``2.5``."""
    if milliseconds is None or milliseconds == "":
        return ""
    try:
        value = int(milliseconds)
    except ValueError:
        try:
            value = int(float(milliseconds))
        except ValueError:
            return ""
    whole, part = divmod(value, 1000)
    if not part:
        return str(whole)
    return f"{whole}.{part:03d}".rstrip("0")


def response_rows(batches: Iterable[Result]) -> Iterator[list[tuple[Any, ...]]]:
    """RESPONSES' batches as CSV rows: its columns are the file's, in order; the duration
    becomes seconds and the time ISO 8601 (None is written as an empty field)."""
    for batch in batches:
        yield [(*row[:9], seconds(row[9]), *row[10:16], timestamp(row[16])) for row in batch.rows]


def private_rows(
    batches: Iterable[Result], bot: str, vault: IdentityVault | None, undecrypted: list[int]
) -> Iterator[list[list[str]]]:
    """USERS' batches as CSV rows: the real id only where consent stands and the vault opens
    the token; otherwise the pseudonymous id. ``undecrypted`` counts tokens left closed."""
    for batch in batches:
        index = {name: position for position, name in enumerate(batch.columns)}
        device, token_at = index["device_id"], index["token"]
        found = []
        for row in batch.rows:
            pseudonymous, token = row[device], row[token_at]
            real = vault.decrypt(token, pseudonymous) if token and vault is not None else None
            if token and real is None:
                undecrypted[0] += 1
            found.append([bot, bot, real or pseudonymous, token or "", pseudonymous])
        yield found


def write_csv(
    path: Path,
    headers: tuple[str, ...],
    rows: Iterable[Sequence[Sequence[Any]]],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the header and every batch of rows; the number of rows written. ``progress``
    is told the rows written so far after each batch."""
    written = 0
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(headers)
        for batch in rows:
            writer.writerows(batch)
            written += len(batch)
            if progress is not None:
                progress(written)
    return written


def encrypted_zip(source: Path, target: Path, password: str, name: str | None = None) -> None:
    """``source`` in a ZIP at ``target``, AES-256 encrypted with ``password``."""
    # Imported here: serve loads this module at start, and pyzipper with its ciphers is a
    # twentieth of a second of it; only a private exhaust's files need it.
    import pyzipper

    with pyzipper.AESZipFile(
        target, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
    ) as archive:
        archive.setpassword(password.encode())
        archive.setencryption(pyzipper.WZ_AES, nbits=256)
        archive.write(source, arcname=name or source.name)


def read_encrypted_zip(path: Path, password: str) -> dict[str, bytes]:
    """Every member of an AES ZIP (tests and ``bot-telemetry exhaust``'s checks)."""
    import pyzipper

    with pyzipper.AESZipFile(path) as archive:
        archive.setpassword(password.encode())
        return {name: archive.read(name) for name in archive.namelist()}


__all__ = [
    "PRIVATE_HEADERS",
    "RESPONSE_HEADERS",
    "encrypted_zip",
    "private_rows",
    "read_encrypted_zip",
    "response_rows",
    "seconds",
    "timestamp",
    "write_csv",
]
