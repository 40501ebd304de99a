"""The batch requests ("sign-files", "complete-files") and the S3 reads they wait on.

Both need S3's answer before they reply: is an object already at a key (when
``overwrite`` is off), and is the object a single PUT reported the one it wrote. Each
is a round trip to S3 (a listing for a batch). In a kernel those reads run on a worker
thread, outside the session's lock (`plan_lookups`, then `Lookups.run`; see
`_offload`): one batch's listing no longer holds up the signatures of the next, and
batches that queued meanwhile share one listing (`Lookups.merge`). Their answers reach
the handlers as `Found`; a handler reads itself whatever is not there (a request
handled alone, as in the unit tests, reads everything).

Whether a key is free is asked for every queued small file of the session at once,
not only for the batch being signed, and an answer stays good for `PRESENCE_FRESH_S`:
200 small files cost one listing, not one per batch. The answer is a courtesy (a clear
error before any byte is sent): the guard against overwriting is the ``If-None-Match``
the URL is signed with, which S3 checks when the bytes arrive.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from . import _protocol as P
from . import _verify as verify
from ._batches import batch_items, each
from ._form_post import keys_are_private

PRESENCE_FRESH_S = 30.0
"""Seconds an answer "no object at this key" is used for signing before it is asked again."""

PRESENCE_KEYS_AT_ONCE = 1000
"""Keys asked about in one go (one listing page reaches up to 1000)."""


@dataclass(frozen=True)
class Found:
    """S3's answers read before a request was handled: per key, whether an object is
    there (or the exception the read raised); per upload id, the single-PUT check asked
    and its outcome. Answers about another bucket than the one now set are not used."""

    bucket: str = ""
    presence: dict[str, object] = field(default_factory=dict)
    verified: dict[str, tuple[verify.SingleCheck, object]] = field(default_factory=dict)

    def outcome(self, bucket: str, upload_id: str, check: verify.SingleCheck) -> object | None:
        """The outcome of ``check`` if it was read for this upload exactly so, else None."""
        asked = self.verified.get(upload_id) if bucket == self.bucket else None
        return asked[1] if asked is not None and asked[0] == check else None


NOTHING_FOUND = Found()


@dataclass
class Lookups:
    """The S3 reads one or more batch requests need; `run` does them, without any lock."""

    signer: Any = None
    bucket: str = ""
    presence: set[str] = field(default_factory=set)
    checks: dict[str, verify.SingleCheck] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.signer is not None and (self.presence or self.checks))

    def merge(self, other: Lookups) -> Lookups:
        """Both plans' reads, done together; a plan for another bucket is dropped."""
        if not self:
            return other
        if not other or other.bucket != self.bucket:
            return self
        return Lookups(
            self.signer, self.bucket, self.presence | other.presence,
            {**self.checks, **other.checks},
        )  # fmt: skip

    def run(self) -> Found:
        """Do the reads (one listing per kind where it reaches, HEADs for the rest)."""
        if not self:
            return NOTHING_FOUND
        presence = verify.keys_present(self.signer, self.presence) if self.presence else {}
        verified = {}
        if self.checks:
            outcomes = verify.verify_batch(self.signer.client, self.bucket, self.checks)
            verified = {i: (self.checks[i], outcome) for i, outcome in outcomes.items()}
        return Found(self.bucket, presence, verified)


class BatchHandlers:
    """The SIGN_FILES and COMPLETE_FILES handlers of `UploadSession` (which provides
    `_uploads`, `options`, `policy`, `_sign`, `_complete`, `_get_signer` and
    `_end_after_failure`), and `plan_lookups` for its widget's worker threads."""

    _uploads: Any
    options: Any
    policy: Any
    _found: Found = NOTHING_FOUND
    _absent_since: dict[str, float]  # key -> when S3 last said no object is there

    def _sign(self, args: dict, exists: dict | None = None) -> dict:  # pragma: no cover
        raise NotImplementedError

    def _complete(self, args: dict, verified: Any = None) -> dict:  # pragma: no cover
        raise NotImplementedError

    def _get_signer(self) -> Any:  # pragma: no cover - UploadSession's
        raise NotImplementedError

    def _connection_pools(self) -> int:  # pragma: no cover - _pools.PoolChoice's
        raise NotImplementedError

    def _look_first(self) -> bool:
        """Whether to ask S3 if an object is at a key before writing it: not with
        ``overwrite``, nor when every key holds a new random id (``{batch}``, the default,
        or ``{uuid}``), where none can be (the signed ``If-None-Match`` still guards the
        write). On a kernel far from its bucket that is a round trip less per request."""
        return not keys_are_private(self.policy.key_template, self.options.overwrite)

    def _end_after_failure(self, args: dict, err: Any) -> None:  # pragma: no cover
        raise NotImplementedError

    def plan_lookups(self, msg: object) -> Lookups:
        """The S3 reads that the request ``msg`` will wait on (none for other kinds, or
        for a request its handler will refuse). Call with the session's lock held."""
        args = msg.get("args") if isinstance(msg, dict) else None
        kind = msg.get("kind") if isinstance(msg, dict) else None
        if not isinstance(args, dict) or kind not in (P.SIGN_FILES, P.COMPLETE_FILES):
            return Lookups()
        try:
            if kind == P.SIGN_FILES:
                ids = batch_items(args, "upload_ids", lambda item: item)
                keys = self._keys_to_ask(ids)
                return Lookups(self._get_signer(), self.options.bucket, presence=keys)
            items = batch_items(args, "uploads", lambda item: item.get("upload_id"))
            checks = self._single_checks(items)
            return Lookups(self._get_signer(), self.options.bucket, checks=checks)
        except Exception:  # the handler answers with the error, and reads nothing
            return Lookups()

    # --- sign-files ------------------------------------------------------------------

    def _sign_files(self, args: dict) -> dict:
        ids = batch_items(args, "upload_ids", lambda item: item)
        exists = self._presence_for(ids)
        sign = partial(self._sign, exists=exists)
        sums = args.get("checksums") if isinstance(args.get("checksums"), dict) else {}
        md5s = args.get("md5s") if isinstance(args.get("md5s"), dict) else {}
        one = [{"upload_id": i, "checksum": sums.get(i), "md5": md5s.get(i)} for i in ids]
        end = self._end_after_failure
        results = [each(P.SIGN_FILES, sign, item, end) for item in one]
        return {"results": results, "pools": self._connection_pools()}  # see _pools

    def _presence_for(self, ids: list[str]) -> dict[str, object]:
        """Per single-PUT key of the batch: whether an object is there (or the read's
        exception). An answer is used once: a key signed may be taken the moment after."""
        wanted = self._single_keys(ids)
        if not wanted:
            return {}
        found = self._found.presence if self._found.bucket == self.options.bucket else {}
        self._remember_presence(found)
        if not all(self._fresh_absent(key) for key in wanted if key not in found):
            asked = verify.keys_present(self._get_signer(), self._keys_to_ask(ids))
            self._remember_presence(asked)
            found = {**found, **asked}
        answers = {key: found.get(key, False) for key in wanted}
        for key in wanted:
            self._absent_since.pop(key, None)
        return answers

    def _keys_to_ask(self, ids: list[str]) -> set[str]:
        """The batch's single-PUT keys not known to be free, and with them those of every
        other queued small file of the session, so that one listing answers for many
        batches to come."""
        wanted = self._single_keys(ids)
        if all(self._fresh_absent(key) for key in wanted):
            return set()
        others = self._single_keys(list(self._uploads))
        stale = [key for key in others if not self._fresh_absent(key)]
        return set(wanted) | set(stale[:PRESENCE_KEYS_AT_ONCE])

    def _single_keys(self, ids: Iterable[str]) -> list[str]:
        if not self._look_first():
            return []
        uploads = (self._uploads.get(i) for i in ids)
        records = [u.record for u in uploads if u is not None]
        return [r["key"] for r in records if r["status"] == "queued" and r["key"]
                and r["size"] < self.options.multipart_threshold]  # fmt: skip

    def _fresh_absent(self, key: str) -> bool:
        since = self._absent_since.get(key)
        return since is not None and time.monotonic() - since < PRESENCE_FRESH_S

    def _remember_presence(self, found: dict[str, object]) -> None:
        now = time.monotonic()
        for key, there in found.items():
            if there is False:
                self._absent_since[key] = now
            else:
                self._absent_since.pop(key, None)

    # --- complete-files --------------------------------------------------------------

    def _complete_files(self, args: dict) -> dict:
        items = batch_items(args, "uploads", lambda item: item.get("upload_id"))
        # The batch's single PUTs are read back with one listing, or HEADs run at once.
        checks = self._single_checks(items)
        outcomes = {}
        for upload_id, check in checks.items():
            outcome = self._found.outcome(self.options.bucket, upload_id, check)
            if outcome is not None:
                outcomes[upload_id] = outcome
        rest = {i: c for i, c in checks.items() if i not in outcomes}
        if rest:
            outcomes.update(self._verify_singles(rest))
        results = []
        for item in items:
            complete = partial(self._complete, verified=outcomes.get(item["upload_id"]))
            entry = each(P.COMPLETE_FILES, complete, item, self._end_after_failure)
            if entry["ok"]:
                entry["status"] = entry.pop("result")["record"]["status"]
            results.append(entry)
        return {"results": results}

    def _single_checks(self, items: list[dict]) -> dict[str, verify.SingleCheck]:
        checks = {}
        for item in items:
            upload = self._uploads.get(item["upload_id"])
            single = upload and upload.mode == "single" and upload.record["status"] == "uploading"
            if single and isinstance(item.get("etag"), str):
                checks[item["upload_id"]] = verify.SingleCheck.of(
                    upload.record, upload.signed_at, item["etag"]
                )
        return checks

    def _verify_singles(self, checks: dict[str, verify.SingleCheck]) -> dict[str, object]:
        return verify.verify_batch(self._get_signer().client, self.options.bucket, checks)
