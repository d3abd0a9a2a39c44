"""Files that hold personal data, encrypted at rest (spec 3.3): export files, import error
files and the uploads that wait between the admin's import steps.

EncryptedFileStorage is a FileSystemStorage under MEDIA_ROOT whose files are a header line and
then a sequence of frames, each a Fernet token of one chunk of the plaintext (at most
CHUNK_SIZE bytes) preceded by its length. A file of any size is so written and read as a
stream, never whole in memory, and the keys are the personal-data keys (FIELD_ENCRYPTION_KEYS,
newest first): after a rotation, files written under an older key still open.
"""

import io
import os
import struct
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from django.core.files import File
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, HttpResponse
from django.utils.http import content_disposition_header

from crm.encryption import decrypt_bytes, encrypt_bytes

MAGIC = b"CRM-ENCRYPTED-FILE 1\n"
CHUNK_SIZE = 1024 * 1024
_LENGTH = struct.Struct(">I")


class NotEncrypted(ValueError):
    """A file under the vault that was not written by it."""


class _EncryptedChunks:
    """What FileSystemStorage._save streams to disk: the header, then one frame per chunk."""

    def __init__(self, content):
        self._content = content

    def chunks(self):
        yield MAGIC
        # Storage.save hands over a django File, whose chunks() start from the beginning.
        for chunk in self._content.chunks(CHUNK_SIZE):
            token = encrypt_bytes(chunk)
            yield _LENGTH.pack(len(token)) + token


class _DecryptedReader(io.RawIOBase):
    """The plaintext of an encrypted file, read frame by frame. Not seekable: a response must
    not take the file's size on disk for the plaintext's length."""

    def __init__(self, raw):
        self._raw = raw
        self._frame = memoryview(b"")
        if raw.read(len(MAGIC)) != MAGIC:
            raw.close()
            raise NotEncrypted(raw.name)

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._frame:
            header = self._raw.read(_LENGTH.size)
            if not header:
                return 0
            (length,) = _LENGTH.unpack(header)
            self._frame = memoryview(decrypt_bytes(self._raw.read(length)))
        size = min(len(target), len(self._frame))
        target[:size] = self._frame[:size]
        self._frame = self._frame[size:]
        return size

    def close(self) -> None:
        self._raw.close()
        super().close()


class EncryptedFileStorage(FileSystemStorage):
    """MEDIA_ROOT, with every file encrypted as it is saved and decrypted as it is read."""

    def _save(self, name, content):
        return super()._save(name, _EncryptedChunks(content))

    def _open(self, name, mode="rb"):
        if "b" not in mode or set(mode) - {"r", "b"}:
            raise ValueError("Encrypted files are opened for reading, in binary mode.")
        # Closed with the File it is returned in.
        raw = open(self.path(name), "rb")  # noqa: SIM115
        return File(io.BufferedReader(_DecryptedReader(raw)))


def encrypt_in_place(path) -> bool:
    """Encrypt a plaintext file written before the vault (a migration's job); False when it is
    encrypted already. The ciphertext replaces it in one rename, so a crash loses nothing."""
    with open(path, "rb") as source:
        if source.read(len(MAGIC)) == MAGIC:
            return False
        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path))
        with os.fdopen(handle, "wb") as target:
            for chunk in _EncryptedChunks(File(source)).chunks():
                target.write(chunk)
    os.replace(temporary, path)
    return True


@cache
def encrypted_storage() -> EncryptedFileStorage:
    """The storage of FileFields that hold personal data (a callable, so that tests' settings of
    MEDIA_ROOT apply and migrations name it rather than a path)."""
    return EncryptedFileStorage()


@contextmanager
def plain_copy(name: str, *, suffix: str = ""):
    """A temporary plaintext copy of an encrypted file, for readers that need a path (openpyxl),
    deleted when the block ends."""
    handle, path = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(handle, "wb") as target, encrypted_storage().open(name) as source:
            while chunk := source.read(CHUNK_SIZE):
                target.write(chunk)
        yield path
    finally:
        os.unlink(path)


@dataclass(frozen=True)
class Download:
    """A file to send: a stored `file`, opened (decrypting) by the service that checked it may
    be sent, or `content` made for this caller."""

    filename: str
    content_type: str
    file: File | None = None
    content: bytes | None = None


def file_response(download: Download) -> HttpResponse:
    """The attachment, streamed and decrypted on the way out when it is a stored file."""
    if download.content is not None:
        response = HttpResponse(download.content, content_type=download.content_type)
        response["Content-Disposition"] = content_disposition_header(True, download.filename)
        return response
    return FileResponse(
        download.file,
        as_attachment=True,
        filename=download.filename,
        content_type=download.content_type,
    )
