"""An independent CRC32C for the tests: S3's form of a body's checksum, computed the slow
way (a table, bit by bit), so a test can say what the page must send for given bytes."""

from __future__ import annotations

import base64
import contextlib
import functools
import struct
from collections.abc import Iterator

import pytest
from e2e.checksum_server import ChecksumS3Server, ChecksumServerUnavailable
from s3rver_server import ci

PAGE_CHECKSUM = "AAAAAA=="
"""A valid CRC32C (of no bytes) for tests that sign bodies they never send."""


@functools.cache
def _table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


def crc32c(data: bytes) -> int:
    if isinstance(data, bytes) and len(data) >= 1 << 16:
        return _crc32c_of_large(data)  # ~0.2 s a MiB: the same bodies come back often
    return _crc32c(data)


@functools.lru_cache(maxsize=16)
def _crc32c_of_large(data: bytes) -> int:
    return _crc32c(data)


def _crc32c(data: bytes) -> int:
    crc, table = 0xFFFFFFFF, _table()
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def b64crc(data: bytes) -> str:
    """S3's form: base64 of the 4-byte big-endian CRC."""
    return base64.b64encode(struct.pack(">I", crc32c(data))).decode()


@contextlib.contextmanager
def verifying_server(**options) -> Iterator[ChecksumS3Server]:
    """A started ChecksumS3Server (ministack: S3 that verifies checksums), stopped after.
    Where ministack cannot be installed the test is skipped; in CI it fails instead."""
    server = ChecksumS3Server(**options)
    try:
        server.start()
    except ChecksumServerUnavailable as exc:
        if ci():
            pytest.fail(f"the checksum server must run in CI: {exc}", pytrace=False)
        pytest.skip(f"ministack (tests/ministack) cannot be installed or started here: {exc}")
    try:
        yield server
    finally:
        server.stop()
