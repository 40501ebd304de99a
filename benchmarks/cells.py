"""Source of the benchmark notebooks' cells (kept apart from run.py so they read as
code). Credentials and the S3 endpoint come from the kernel's environment, as in the
e2e tests.

The widget notebook instruments the widget from the outside, for the benchmark only:
- status transitions of every record (``w.observe(names="uploads")``), wall clock;
- ``on_upload`` callback time;
- the kernel's handler time of each request kind (wrapping the session router's handler
  table);
- ``Signer.presign_part`` and ``Signer.complete_multipart`` (wrapping the signer when
  the session creates it, so signing stays lazy as for a user);
- ``client.complete_multipart_upload`` (moto's assembly of the parts, seen from boto3).
"""

from __future__ import annotations

CLIENT = (
    "import os, io, time, json, boto3\n"
    "from botocore.config import Config\n"
    'client = boto3.client("s3", endpoint_url=os.environ["S3UW_TEST_ENDPOINT"], '
    'region_name="us-east-1", config=Config(signature_version="s3v4", '
    's3={"addressing_style": "path"}))\n'
)

WIDGET_SETUP = (
    CLIENT
    + '''from s3_upload_widget import S3UploadWidget
from s3_upload_widget import _protocol as _P

BENCH = {"runs": {}, "moto_complete": []}
_orig_cmu = client.complete_multipart_upload

def _timed_cmu(**kw):
    t0 = time.perf_counter()
    try:
        return _orig_cmu(**kw)
    finally:
        BENCH["moto_complete"].append({"key": kw.get("Key"), "s": time.perf_counter() - t0})

client.complete_multipart_upload = _timed_cmu

def _timed(fn, out, count=None):
    def wrapper(*a, **kw):
        t_wall, t0 = time.time(), time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            entry = {"t": t_wall, "s": time.perf_counter() - t0}
            if count is not None:
                entry["n"] = count(*a, **kw)
            out.append(entry)
    return wrapper

CFG = {}
w = None

def make_widget(bucket, **kw):
    """A fresh, instrumented widget (the previous one is closed)."""
    global w
    if w is not None:
        w.close()
    w = S3UploadWidget(bucket=bucket, prefix="bench/", client=client, **kw)
    rec = {"status_t": {}, "done_cb": [], "handlers": {}, "presign_part": [],
           "complete_multipart": []}
    BENCH["runs"][bucket] = rec

    def on_uploads(change):
        now = time.time()
        for u in change["new"]:
            rec["status_t"].setdefault(u["id"], {}).setdefault(u["status"], now)

    w.observe(on_uploads, names="uploads")
    w.on_upload(lambda r: rec["done_cb"].append({"t": time.time(), "key": r["key"]}))
    session = w._session
    handlers = session._router._handlers  # kind -> handler (s3_upload_widget/_router.py)
    for kind in list(handlers):
        count = None
        if kind == _P.SIGN_PARTS:
            count = lambda args: len(args.get("part_numbers") or [])
        handlers[kind] = _timed(handlers[kind], rec["handlers"].setdefault(kind, []), count)
    make_signer = session._signer_factory

    def instrumented_signer():
        signer = make_signer()
        signer.presign_part = _timed(signer.presign_part, rec["presign_part"])
        signer.complete_multipart = _timed(signer.complete_multipart, rec["complete_multipart"])
        return signer

    session._signer_factory = instrumented_signer
    return w
'''
)

WIDGET_SHOW = "make_widget(**CFG)"


def fileupload_cells(bucket: str) -> list[str]:
    """Today's path: ipywidgets.FileUpload, then boto3.upload_fileobj(io.BytesIO(...)) in
    the kernel. The observer does the upload as soon as the value arrives and records
    times and the kernel's peak memory (VmHWM) at each step."""
    return [
        CLIENT
        + f"""import ipywidgets as widgets
BUCKET = {bucket!r}

def _hwm_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

FU = {{"events": [], "hwm_start_kib": _hwm_kib(), "pid": os.getpid()}}
fu = widgets.FileUpload(multiple=False)

def _on_value(change):
    if not change["new"]:
        return
    t_arrived, hwm_arrived = time.time(), _hwm_kib()
    v = change["new"][0]
    ev = {{"t_arrived": t_arrived, "hwm_arrived_kib": hwm_arrived, "name": v.name,
          "size": len(v.content)}}
    key = "fileupload/" + v.name
    t0 = time.perf_counter()
    try:
        client.upload_fileobj(io.BytesIO(v.content), BUCKET, key)
        ev.update(ok=True, error="", key=key)
    except Exception as exc:
        ev.update(ok=False, error=repr(exc), key=key)
    ev.update(upload_s=time.perf_counter() - t0, t_uploaded=time.time(),
              hwm_uploaded_kib=_hwm_kib())
    FU["events"].append(ev)

fu.observe(_on_value, names="value")
fu"""
    ]


# Records each WebSocket's close code in the page (benchmark-only): ipywidgets'
# FileUpload failure at default server settings shows only as a close with code 1009.
WS_CLOSE_RECORDER = """
(() => {
  const Orig = window.WebSocket;
  window.__s3uwBenchWs = [];
  class Recording extends Orig {
    constructor(...args) {
      super(...args);
      const url = String(args[0]).split("?")[0];
      this.addEventListener("close", (e) =>
        window.__s3uwBenchWs.push({url, code: e.code, reason: e.reason, t: Date.now() / 1000}));
    }
  }
  window.WebSocket = Recording;
})();
"""
