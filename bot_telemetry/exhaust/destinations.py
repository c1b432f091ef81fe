"""Where exhaust files go, and the links that download them.

* ``LocalFolder``: a folder next to the store; ``serve`` serves each file at
  ``/dataset/v1/download/<name>?expires=<unix s>&signature=<HMAC-SHA256>``. The signature
  covers the name and the expiry, so a link cannot be pointed at another file or made to
  last longer; ``LinkSigner.check`` says which of the two went wrong. The key comes from
  ``BOT_TELEMETRY_EXHAUST_SECRET`` or, when unset, a random one kept in ``link.key`` in the
  folder (mode 0600), so links survive a restart.
* ``AzureBlobFolder``: a container of Azure Blob Storage (``azure-storage-blob``); links are
  read-only SAS URLs of the blob that expire (the account key signs them).

A file appears at its name only once complete: the local folder moves a finished file into
place (one rename), and a blob is committed by its upload's last request.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import shutil
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Protocol

SECRET_ENV: Final = "BOT_TELEMETRY_EXHAUST_SECRET"
DOWNLOAD_PATH: Final = "/dataset/v1/download/"


class Destination(Protocol):
    description: str

    def put(self, local: Path, name: str) -> None:
        """Store ``local`` (a finished file) as ``name``."""

    def url(self, name: str, expires_ms: int, base_url: str) -> str:
        """A link to ``name`` that stops working at ``expires_ms``."""

    def exists(self, name: str) -> bool: ...


@dataclass(frozen=True)
class Checked:
    ok: bool
    reason: str = ""
    #: A genuine link past its time: when it expired (unix s); None otherwise.
    expired_at: int | None = None


class LinkSigner:
    """HMAC-SHA256 over a file's name and the link's expiry."""

    def __init__(self, secret: bytes):
        if len(secret) < 16:
            raise ValueError(f"{SECRET_ENV} must be at least 16 bytes")
        self._secret = secret

    @classmethod
    def for_folder(cls, folder: Path) -> LinkSigner:
        configured = os.environ.get(SECRET_ENV)
        if configured:
            return cls(configured.encode())
        path = folder / "link.key"
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_hex(32))
        return cls(path.read_text().strip().encode())

    def signature(self, name: str, expires_s: int) -> str:
        return hmac.new(self._secret, f"{name}\n{expires_s}".encode(), hashlib.sha256).hexdigest()

    def check(self, name: str, expires: str | None, signature: str | None, now_s: int) -> Checked:
        """Whether a link may be served: a wrong signature is ``tampered`` (whatever the
        expiry says, since it is not to be trusted then), a right one past its time
        ``expired``."""
        # ASCII only: str.isdigit() takes '²', which int() refuses, and compare_digest refuses
        # str with non-ASCII characters; either was a 500 for a hand-edited link.
        if not expires or not signature or not (expires.isascii() and expires.isdigit()):
            return Checked(False, "the link is not signed: ask the job's read API for a new one")
        if len(expires) > 20:  # no link signed here has one; int() refuses 4,300 digits
            return Checked(False, "the link was tampered with: its signature does not match")
        expected = self.signature(name, int(expires))
        if not hmac.compare_digest(expected.encode(), signature.encode(errors="surrogateescape")):
            return Checked(False, "the link was tampered with: its signature does not match")
        if int(expires) <= now_s:
            moment = datetime.fromtimestamp(int(expires), UTC).isoformat()
            return Checked(
                False,
                f"the link expired at {moment}: read the job again for a new one",
                expired_at=int(expires),
            )
        return Checked(True)


class LocalFolder:
    """Files under ``root`` (``<exhaust folder>/files``), served by ``serve``."""

    def __init__(self, root: Path, signer: LinkSigner):
        self.root = Path(root)
        self.signer = signer
        self.description = str(self.root)

    def path(self, name: str) -> Path | None:
        """The file ``name`` names, if it is inside the folder."""
        try:
            target = (self.root / name).resolve()
        except (ValueError, OSError):  # a NUL in a link's name (was a 500), a symlink loop
            return None
        root = self.root.resolve()
        return target if target.is_relative_to(root) and target != root else None

    def put(self, local: Path, name: str) -> None:
        target = self.path(name)
        if target is None:
            raise ValueError(f"{name!r} is outside {self.root}")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(local, target)  # one rename: the file is there whole or not at all
        except OSError:
            partial = target.with_name(target.name + ".partial")
            shutil.copyfile(local, partial)
            os.replace(partial, target)

    def url(self, name: str, expires_ms: int, base_url: str) -> str:
        expires_s = expires_ms // 1000
        query = urllib.parse.urlencode(
            {"expires": expires_s, "signature": self.signer.signature(name, expires_s)}
        )
        quoted = urllib.parse.quote(name)
        return f"{base_url.rstrip('/')}{DOWNLOAD_PATH}{quoted}?{query}"

    def exists(self, name: str) -> bool:
        target = self.path(name)
        return target is not None and target.is_file()


class AzureBlobFolder:
    """Files as blobs in one container; links are SAS URLs (read only, expiring)."""

    def __init__(self, connection_string: str, container: str = "exhausts"):
        from azure.storage.blob import BlobServiceClient

        self.service = BlobServiceClient.from_connection_string(connection_string)
        self.container = container
        self.description = f"{self.service.url.rstrip('/')}/{container}"
        self._key = self.service.credential.account_key if self.service.credential else None
        if not self._key:
            raise ValueError("the Blob connection string has no AccountKey to sign SAS links with")
        client = self.service.get_container_client(container)
        try:
            client.create_container()
        except Exception as error:  # ResourceExistsError: already there
            if "ContainerAlreadyExists" not in str(error) and "already exists" not in str(error):
                raise

    def put(self, local: Path, name: str) -> None:
        blob = self.service.get_blob_client(self.container, name)
        with local.open("rb") as data:
            blob.upload_blob(data, overwrite=True)

    def url(self, name: str, expires_ms: int, base_url: str) -> str:
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        expiry = datetime.fromtimestamp(expires_ms / 1000, UTC)
        token = generate_blob_sas(
            account_name=self.service.account_name,
            container_name=self.container,
            blob_name=name,
            account_key=self._key,
            permission=BlobSasPermissions(read=True),
            expiry=expiry,
        )
        blob = self.service.get_blob_client(self.container, name)
        return f"{blob.url}?{token}"

    def exists(self, name: str) -> bool:
        blob = self.service.get_blob_client(self.container, name)
        try:
            blob.get_blob_properties()
        except Exception:
            return False
        return True


__all__ = [
    "DOWNLOAD_PATH",
    "SECRET_ENV",
    "AzureBlobFolder",
    "Checked",
    "Destination",
    "LinkSigner",
    "LocalFolder",
]
