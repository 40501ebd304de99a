"""Every message kind exchanged between the browser and the kernel, and their shapes.

This file is mirrored by ``js/src/protocol.js``: a kind added here must be added there.

Envelope of a request from the browser::

    {"id": "<unique per widget view>", "kind": "<kind>", "args": {...}}

Python always answers a request, also when its handler raises::

    {"id": ..., "kind": "<kind>-response", "ok": true, "result": {...}}
    {"id": ..., "kind": "<kind>-response", "ok": false,
     "error": {"code": "...", "message": "...", "hint": "..."}}

Notifications carry no ``id`` and get no answer. Commands go from the kernel to the
browser and get no answer either.
"""

from __future__ import annotations

from ._values import clean_text, is_int

# --- Requests: browser -> kernel, each answered with "<kind>-response" -----------------

HELLO = "hello"
"""args: {origin: str}. result: {records: [view record]}: tells Python the page's origin
(for CORS advice); the answer holds every record the widget has, as VIEW_FIELDS, from
which a new view starts before RECORDS deltas follow."""

ADD_FILES = "add-files"
"""args: {files: [{name: str, size: int, type: str, relative_path?: str,
last_modified?: int}]} (last_modified: the File's lastModified, ms).
result: {uploads: [record]}, one record per file in order; a refused file's record
has status "error" and nothing is signed for it. A file that matches an interrupted
multipart upload of this kernel (same name, path, size and last_modified; checksums
on; S3 holds a part of it) is answered with that upload's record plus
``resume: {part_number, offset, length}``, the lowest stored part: the page hashes
those bytes and sends ADOPT (no new record is made), unless another page of this widget
moved its bytes within the last 10 s: then the entry is that record plus ``elsewhere:
true`` (nothing to do now; the page may ask again once that window stopped). A new
record that will go as a multipart upload with checksums carries ``first_part:
{part_number: 1, offset: 0, length}`` as its plan has it now: the page hashes those
bytes while its SIGN_FILES is out, so the first part can leave as soon as it is signed
(a hint: the plan SIGN_FILES answers is the one that counts)."""

SIGN = "sign"
"""args: {upload_id: str, checksum: str} (the file's CRC32C, base64, when the widget's
`checksum` is on and the file goes as a single PUT; signed, so S3 checks the bytes).
result, single PUT: {mode: "single", method: "PUT", url: str, headers: {str: str}}.
result, form POST (a file below FORM_POST_MAX_BYTES, see _form_post): {mode: "single",
method: "POST", url: str, headers: {}, fields: {str: str}}: the page sends the fields,
then the file as the last field "file", with no header of its own.
result, multipart: {mode: "multipart", part_size: int, part_count: int, checksum?: str}
(checksum: "CRC32C" when each part's SIGN_PARTS must carry its checksum)."""

SIGN_PARTS = "sign-parts"
"""args: {upload_id: str, part_numbers: [int], checksums: [str]} (a small batch, 1-based;
checksums: each part's CRC32C, in the same order, when the upload carries checksums).
result: {parts: [{part_number: int, length: int, method: "PUT", url: str,
headers: {str: str}}], pools: 1 | 2} (pools: as for SIGN_FILES)."""

COMPLETE = "complete"
"""args: {upload_id: str, etag: str} for a single PUT, or
{upload_id: str, parts: [{part_number: int, etag: str}]} for multipart.
result: {record}: the finished record (status "done")."""

FAIL = "fail"
"""args: {upload_id: str, error: {reason: str, status: int, s3_code: str,
s3_message: str, part_number: int | null}}; reason is one of FAILURE_REASONS.
result: {record}: the record with status "error" and a message a person can act on."""

CANCEL = "cancel"
"""args: {upload_id: str}. result: {record}: status "cancelled"; multipart aborted."""

SIGN_FILES = "sign-files"
"""args: {upload_ids: [str], checksums: {upload_id: str}, md5s: {upload_id: str}}: 1 to
MAX_FILES_PER_BATCH distinct ids, each as for SIGN (checksums: of the files that go as
single PUTs; md5s: the MD5, base64, of those below FORM_POST_MAX_BYTES, which the kernel
may sign as form POSTs with that Content-MD5).
result: {results: [{upload_id, ok: true, result: <SIGN result>} |
{upload_id, ok: false, error: {code, message, hint}}], pools: 1 | 2}: one result per
id, in order. A file that fails ends as if its own SIGN had failed; the others go on. pools:
the browser's connection pools per S3 host name the page may use (`_pools`): with 2 it
sends its requests in flight on each, half of them with credentials."""

COMPLETE_FILES = "complete-files"
"""args: {uploads: [{upload_id, etag} | {upload_id, parts}]}: 1 to MAX_FILES_PER_BATCH
distinct uploads, each as the args of COMPLETE.
result: {results: [{upload_id, ok: true, status: "done" | "unverified"} |
{upload_id, ok: false, error: {code, message, hint}}]}, one per upload in order; the
records themselves reach the page as RECORDS deltas."""

PAUSE = "pause"
"""args: {upload_id: str}: the page stopped the file's requests and keeps what S3 holds
(a multipart upload, its stored parts). result: {record}: status "paused" for a queued
or uploading file; any other record is answered as it is, unchanged."""

RESUME = "resume"
"""args: {upload_id: str}. result: {record}: back to the status it paused in (queued or
uploading); the page then signs what is missing: the parts not stored, or the single
PUT again (`sign` re-signs an uploading single PUT). A record not paused is answered
as it is, unchanged."""

ADOPT = "adopt"
"""args: {upload_id: str, checksum: str}: the CRC32C (base64) of the bytes an ADD_FILES
``resume`` named. Same as the stored part's: result {adopted: true, plan: {mode:
"multipart", part_size, part_count, checksum}, parts: [{part_number, etag}]} (every part
S3 holds at the plan's size); the record is "uploading" and the page sends only the
other parts. Different (another file of that name): {adopted: false, record: <a new
queued record for this file>}; the interrupted upload stays as it was. A refused ADOPT
never ends the interrupted upload; one of an upload whose bytes another page moved
within the last 10 s is refused with ``in-another-window`` (_owners.py)."""

REQUEST_KINDS = frozenset(
    {HELLO, ADD_FILES, SIGN, SIGN_PARTS, COMPLETE, FAIL, CANCEL, SIGN_FILES, COMPLETE_FILES}
    | {PAUSE, RESUME, ADOPT}
)

MAX_FILES_PER_BATCH = 64
"""Files in one SIGN_FILES or COMPLETE_FILES request: enough to amortise a kernel round
trip over many small files, few enough that one answer never holds the page for long."""

ELSEWHERE_MS = 10000
"""How long after a page last moved an upload's bytes it still counts as going on there
(_owners.py; mirror: js/src/protocol.js): no other page may take it over meanwhile."""

FORM_POST_MAX_BYTES = 1024 * 1024
"""Files below this size may go as form POSTs (_form_post.py; mirror: js/src/protocol.js):
the page sends their MD5 with SIGN_FILES too, for the policy's Content-MD5."""

# --- Notifications: browser -> kernel, never answered -------------------------------

PROGRESS = "progress"
"""{kind: "progress", page: str, updates: [{upload_id: str, loaded: int}]}; throttled by
the browser. ``page``: the prefix of the page's request ids (_owners.py)."""

NOTIFICATION_KINDS = frozenset({PROGRESS})

# --- Commands: kernel -> browser ------------------------------------------------------

CANCEL_UPLOADS = "cancel-uploads"
"""{kind: "cancel-uploads", upload_ids: [str] | null}; null means every active upload."""

RECORDS = "records"
"""{kind: "records", records: [patch], removed: [str]}: what changed since the last
RECORDS (or the HELLO answer). A patch holds "id" and the VIEW_FIELDS that changed; an
id the page has not seen comes with all of them. At most one per message handled."""

PAUSE_UPLOADS = "pause-uploads"
"""{kind: "pause-uploads", upload_ids: [str]}: `w.pause()`; the page pauses each file it
is uploading and tells the kernel with PAUSE."""

RESUME_UPLOADS = "resume-uploads"
"""{kind: "resume-uploads", upload_ids: [str]}: `w.resume()`; the page resumes each file
it paused and tells the kernel with RESUME."""

COMMAND_KINDS = frozenset({CANCEL_UPLOADS, RECORDS, PAUSE_UPLOADS, RESUME_UPLOADS})

VIEW_FIELDS = ("id", "name", "relative_path", "size", "bucket", "key", "status", "loaded", "error")
"""The fields of a record the page draws; the rest stays in Python (`w.uploads`)."""

# --- Vocabulary --------------------------------------------------------------------

RESPONSE_SUFFIX = "-response"

MAX_ID_CHARS = 64
"""A request id is a str of at most this many characters, or an int of at most 2**53."""

FAILURE_REASONS = frozenset(
    {
        "network",  # the request never got an HTTP status (status 0): CORS or unreachable
        "http",  # S3 answered with an error status
        "stall",  # no progress for the stall timeout
        "etag-unreadable",  # S3 accepted the body but the ETag header is not exposed
        "timeout",  # the kernel did not answer in time
        "internal",  # a bug in the browser code
    }
)

STATUSES = (
    "queued",
    "signing",
    "uploading",
    "paused",  # the page stopped its requests; what S3 holds is kept until resume
    "completing",
    "done",
    "unverified",  # S3 accepted the PUT, but the role may not read it back: not done
    "error",
    "cancelled",
)
FINAL_STATUSES = frozenset({"done", "unverified", "error", "cancelled"})


def response_kind(kind: str) -> str:
    """The kind of the answer to a request of ``kind``."""
    return kind + RESPONSE_SUFFIX


def ok_response(request_id: object, kind: str, result: dict) -> dict:
    """The answer to a request that succeeded."""
    return {"id": request_id, "kind": response_kind(kind), "ok": True, "result": result}


def error_response(request_id: object, kind: str, code: str, message: str, hint: str = "") -> dict:
    """The answer to a request that failed; ``message`` and ``hint`` are for a person."""
    return {
        "id": request_id,
        "kind": response_kind(kind),
        "ok": False,
        "error": {"code": code, "message": message, "hint": hint},
    }


def read_failure(error: dict) -> dict:
    """The fields of a ``fail`` request's ``error``, each of its type or a neutral value.

    Returns ``{reason, status, s3_code, s3_message, part_number}``: an unknown reason
    becomes ``"internal"``, texts are cleaned (`clean_text`) and cut to 100 / 1,000
    characters.
    """
    reason = error.get("reason")
    status, part_number = error.get("status"), error.get("part_number")
    return {
        "reason": reason if reason in FAILURE_REASONS else "internal",
        "status": status if is_int(status) else 0,
        "s3_code": clean_text(error.get("s3_code"), 100),
        "s3_message": clean_text(error.get("s3_message"), 1000),
        "part_number": part_number if is_int(part_number) else None,
    }
