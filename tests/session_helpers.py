"""A `UploadSession` on moto in process, and helpers that drive it like a browser."""

from __future__ import annotations

import pytest
from checksums import PAGE_CHECKSUM
from conftest import TEST_BUCKET

from s3_upload_widget import _protocol as P
from s3_upload_widget._options import SessionOptions
from s3_upload_widget._policy import UploadPolicy
from s3_upload_widget._session import UploadSession
from s3_upload_widget._signer import Signer

BUCKET = TEST_BUCKET
MiB = 1024**2


@pytest.fixture
def s3(s3_client):
    """moto in process, with the bucket BUCKET (tests/conftest.py)."""
    return s3_client


class Harness:
    """A session plus what it reported, and a helper to send requests."""

    def __init__(self, client, *, warm_signer=False, **options):
        policy_args = {
            k: options.pop(k)
            for k in ("prefix", "accept", "max_size", "max_files", "key_template")
            if k in options
        }
        self.policy = UploadPolicy(**{"prefix": "uploads/", **policy_args})
        self.changes: list[list[dict]] = []
        self.deltas: list[dict] = []
        self.done: list[dict] = []
        self.cors_checks: list[str] = []
        self.signer_calls = 0
        self.client = client

        def make_signer():
            self.signer_calls += 1
            return Signer(client, BUCKET, expires_in=300)

        self.session = UploadSession(
            policy=self.policy,
            signer=make_signer,
            options=SessionOptions(bucket=BUCKET, **{"expires_in": 300, **options}),
            on_change=self.changes.append,
            on_done=self.done.append,
            on_delta=self.deltas.append,
            cors_checker=self._cors,
            warm_signer=warm_signer,
        )
        self._next = 0
        self.page = ""  # set it to send as a page (request ids "page-N", see _owners.py)

    def _cors(self, origin):
        self.cors_checks.append(origin)
        return [f"No CORS rule allows {origin}."]

    def request(self, kind, **args):
        args = with_page_checksums(kind, args)
        self._next += 1
        request_id = f"{self.page}-{self._next}" if self.page else f"r{self._next}"
        return self.session.handle({"id": request_id, "kind": kind, "args": args})

    def ok(self, kind, **args):
        reply = self.request(kind, **args)
        assert reply["ok"], reply
        assert reply["kind"] == kind + "-response"
        return reply["result"]

    def error(self, kind, code, **args):
        reply = self.request(kind, **args)
        assert reply["ok"] is False, reply
        assert reply["error"]["code"] == code, reply
        assert reply["error"]["message"]
        return reply["error"]

    def add(self, name="data.csv", size=5, type="text/csv"):
        return self.ok(P.ADD_FILES, files=[{"name": name, "size": size, "type": type}])["uploads"][
            0
        ]


def upload_single(h: Harness, record: dict, body: bytes) -> dict:
    signed = h.ok(P.SIGN, upload_id=record["id"])
    assert signed["mode"] == "single"
    etag = h.client.put_object(
        Bucket=BUCKET, Key=record["key"], Body=body, ContentType=signed["headers"]["Content-Type"]
    )["ETag"]
    return h.ok(P.COMPLETE, upload_id=record["id"], etag=etag)["record"]


def start_multipart(h: Harness, size: int) -> tuple[dict, dict]:
    record = h.add("big.bin", size, "application/octet-stream")
    plan = h.ok(P.SIGN, upload_id=record["id"])
    assert plan["mode"] == "multipart"
    return record, plan


def with_page_checksums(kind: str, args: dict) -> dict:
    """``args`` with the checksums a page sends (CRC32C of bodies the test never sends),
    where the test gave none: a test of missing checksums passes ``checksum=None``."""
    if kind == P.SIGN and "checksum" not in args:
        return {**args, "checksum": PAGE_CHECKSUM}
    ids, numbers = args.get("upload_ids"), args.get("part_numbers")
    if kind == P.SIGN_FILES and "checksums" not in args and isinstance(ids, list):
        return {**args, "checksums": {i: PAGE_CHECKSUM for i in ids if isinstance(i, str)}}
    if kind == P.SIGN_PARTS and "checksums" not in args and isinstance(numbers, list):
        return {**args, "checksums": [PAGE_CHECKSUM] * len(numbers)}
    return args
