"""What presigning costs: the signer's calls and the kernel's "sign-parts" handler, timed in
this process against moto's endpoint."""

from __future__ import annotations

import json
import time

from . import measure as M

MiB = M.MiB


def measure_signing(moto: M.RemoteMoto, calls: int) -> dict:
    """Presigning is local computation: time Signer.presign_part and .presign_put, and
    the kernel's whole "sign-parts" handler (UploadSession.handle) per batch size."""
    client = moto.client()
    bucket = moto.make_bucket()
    try:
        return {
            **_signer_costs(client, bucket, calls),
            "sign_parts_handler": _handler_costs(client, bucket),
            "note": "in the benchmark process, against moto's endpoint; presigning sends nothing",
        }
    finally:
        M.empty_bucket(client, bucket)


def _timed(fn, n: int) -> list[float]:
    """Seconds of each of ``n`` calls ``fn(i)``, after a warm-up (botocore loads models,
    caches endpoints)."""
    for _ in range(min(50, n)):
        fn(0)
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


def _signer_costs(client, bucket: str, calls: int) -> dict:
    from s3_upload_widget._signer import Signer

    signer = Signer(client, bucket, prefix="bench/")
    key = "bench/signing/file.bin"
    upload_id = signer.create_multipart(
        key, content_type="application/octet-stream", overwrite=True
    )
    part = _timed(lambda i: signer.presign_part(key, upload_id, i % 10_000 + 1, 8 * MiB), calls)
    single = _timed(
        lambda i: signer.presign_put(
            key, size=100 * MiB, content_type="application/octet-stream", overwrite=False
        ),
        max(200, calls // 4),
    )
    signer.abort_multipart(key, upload_id)
    return {
        "presign_part_ms": M.summary(part, 1000),
        "presign_put_ms": M.summary(single, 1000),
        "part_url_chars": len(signer.presign_part(key, upload_id, 1, 8 * MiB).url),
    }


def _handler_costs(client, bucket: str) -> dict:
    """The kernel's handler: parse + check + presign every part + build the reply, per
    batch size."""
    from s3_upload_widget._options import SessionOptions
    from s3_upload_widget._policy import UploadPolicy
    from s3_upload_widget._session import UploadSession
    from s3_upload_widget._signer import Signer

    session = UploadSession(
        policy=UploadPolicy(prefix="bench/"),
        signer=lambda: Signer(client, bucket, prefix="bench/"),
        options=SessionOptions(bucket=bucket, part_size=8 * MiB),
    )
    size = 10_000 * 8 * MiB  # 10,000 parts: every batch below signs parts not signed yet
    msg_id = iter(range(1, 1_000_000))
    files = [{"name": "x.bin", "size": size, "type": ""}]
    reply = session.handle({"id": next(msg_id), "kind": "add-files", "args": {"files": files}})
    upload = reply["result"]["uploads"][0]["id"]
    session.handle({"id": next(msg_id), "kind": "sign", "args": {"upload_id": upload}})
    batches = {}
    next_part = 1
    for batch, reps in ((1, 200), (2, 200), (4, 200), (6, 200), (16, 100), (64, 40)):
        times, sizes = [], []
        for _ in range(reps):
            numbers = list(range(next_part, next_part + batch))
            next_part += batch
            t0 = time.perf_counter()
            args = {"upload_id": upload, "part_numbers": numbers}
            r = session.handle({"id": next(msg_id), "kind": "sign-parts", "args": args})
            times.append(time.perf_counter() - t0)
            assert r["ok"], r
            sizes.append(len(json.dumps(r)))
        batches[str(batch)] = {
            "handler_ms": M.summary(times, 1000),
            "per_part_ms_median": M.summary(times, 1000)["median"] / batch,
            "reply_bytes": sizes[0],
        }
    session.close()
    return batches
