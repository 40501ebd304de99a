"""wait_for_uploads: its rules (with a stand-in widget), then the real thing in a real
ipykernel, driven by a stand-in front end that speaks the widget's protocol over
jupyter_client and PUTs the bytes to LocalS3 (moto) in the kernel, like the browser does.

The kernel tests are the evidence that a blocking cell keeps serving the widget: each
checks the cell's own output, what the cells queued behind it saw, and S3.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from checksums import b64crc

from s3_upload_widget import _shell_pump, _wait
from s3_upload_widget._wait import wait_for_uploads, wait_for_uploads_async

# --- the rules, with a stand-in widget -----------------------------------------------------


class FakeWidget:
    """What wait_for_uploads reads: uploads, comm, on_msg, _session.origin."""

    def __init__(self, uploads=(), origin="http://localhost:8888"):
        self.uploads = [dict(r) for r in uploads]
        self.comm = object()
        self._session = SimpleNamespace(origin=origin)
        self.msg_callbacks = []

    def on_msg(self, callback, remove=False):
        if remove:
            self.msg_callbacks.remove(callback)
        else:
            self.msg_callbacks.append(callback)

    def set_status(self, upload_id, status, **extra):
        self.uploads = [
            {**r, "status": status, **extra} if r["id"] == upload_id else r for r in self.uploads
        ]


def rec(upload_id, status="done", name=None, size=10, loaded=None):
    return {
        "id": upload_id,
        "name": name or f"{upload_id}.csv",
        "status": status,
        "size": size,
        "loaded": size if loaded is None else loaded,
        "key": f"uploads/{upload_id}.csv",
        "error": "",
    }


def later(seconds, fn):
    timer = threading.Timer(seconds, fn)
    timer.start()
    return timer


@pytest.fixture
def polling(monkeypatch):
    """No kernel here: wait by polling, as in a thread or a subshell."""
    monkeypatch.setattr(_shell_pump.ShellPump, "for_current_thread", classmethod(lambda cls: None))


@pytest.mark.parametrize("n", [0, -1, 1.5, True, "1", None])
def test_n_must_be_a_positive_int(polling, n):
    with pytest.raises(ValueError, match="n must be a positive int"):
        wait_for_uploads(FakeWidget([rec("a")]), n=n)


@pytest.mark.parametrize("timeout", [-1, float("nan"), "5", True])
def test_timeout_must_be_seconds(polling, timeout):
    with pytest.raises(ValueError, match="timeout must be None or seconds"):
        wait_for_uploads(FakeWidget([rec("a")]), timeout=timeout)


def test_closed_widget(polling):
    w = FakeWidget([rec("a")])
    w.comm = None
    with pytest.raises(RuntimeError, match="closed"):
        wait_for_uploads(w)


def test_outside_a_kernel_it_says_so():
    w = FakeWidget([rec("a")])
    with pytest.raises(RuntimeError, match="needs a Jupyter kernel"):
        wait_for_uploads(w, timeout=1)
    assert w.msg_callbacks == []


def test_an_upload_finished_before_the_call_counts_once(polling):
    w = FakeWidget([rec("a")])
    t0 = time.monotonic()
    assert [r["id"] for r in wait_for_uploads(w, timeout=5)] == ["a"]
    assert time.monotonic() - t0 < 0.5
    with pytest.raises(TimeoutError, match="no file arrived"):
        wait_for_uploads(w, timeout=0.2)  # "a" was returned already
    w.uploads.append(rec("b"))
    assert [r["id"] for r in wait_for_uploads(w, timeout=5)] == ["b"]


def test_returns_copies(polling):
    w = FakeWidget([rec("a")])
    [r] = wait_for_uploads(w, timeout=5)
    r["status"] = "changed"
    assert w.uploads[0]["status"] == "done"


def test_waits_for_the_whole_batch(polling):
    # Three files picked together: one done, two on their way. n=1 is reached at once,
    # but the batch comes back whole.
    w = FakeWidget([rec("a"), rec("b", "uploading", loaded=3), rec("c", "queued", loaded=0)])
    later(0.2, lambda: w.set_status("b", "done"))
    later(0.4, lambda: w.set_status("c", "error", error="too large"))
    t0 = time.monotonic()
    records = wait_for_uploads(w, n=1, timeout=5)
    assert 0.35 < time.monotonic() - t0 < 3
    assert [(r["id"], r["status"]) for r in records] == [
        ("a", "done"),
        ("b", "done"),
        ("c", "error"),
    ]


def test_n_counts_finished_uploads(polling):
    w = FakeWidget([rec("a")])
    later(0.2, lambda: w.uploads.append(rec("b", "cancelled")))
    records = wait_for_uploads(w, n=2, timeout=5)
    assert [(r["id"], r["status"]) for r in records] == [("a", "done"), ("b", "cancelled")]


def test_timeout_says_how_far_the_uploads_got(polling):
    w = FakeWidget([rec("a", "uploading", name="big.parquet", size=200, loaded=50)])
    t0 = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        wait_for_uploads(w, timeout=0.3)
    assert 0.25 < time.monotonic() - t0 < 2
    text = str(info.value)
    assert "Waited 0.3 s" in text and "'big.parquet' uploading 25%" in text, text
    assert "timeout=" in text


def test_timeout_without_any_file(polling):
    with pytest.raises(TimeoutError, match=r"no file arrived.*Pick or drop"):
        wait_for_uploads(FakeWidget([]), timeout=0.1)


def test_no_browser_fails_fast(polling):
    w = FakeWidget([], origin="")
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="No browser is showing this widget") as info:
        wait_for_uploads(w, timeout=30, frontend_grace=0.2)
    assert time.monotonic() - t0 < 2
    assert "skip-execution" in str(info.value)
    assert w.msg_callbacks == []  # the listener is gone


def test_a_browser_message_during_the_wait_counts_as_a_browser(polling):
    w = FakeWidget([], origin="")

    def browser_says_hello():
        for callback in list(w.msg_callbacks):
            callback(w, {"kind": "hello"}, [])

    later(0.1, browser_says_hello)
    with pytest.raises(TimeoutError):  # not RuntimeError: a browser is there
        wait_for_uploads(w, timeout=0.6, frontend_grace=0.3)


def test_nested_wait_is_refused(polling, monkeypatch):
    monkeypatch.setattr(_wait._local, "pumping", True)
    with pytest.raises(RuntimeError, match="another wait runs"):
        wait_for_uploads(FakeWidget([rec("a")]))


def test_async_variant_outside_a_kernel():
    w = FakeWidget([rec("a", "uploading")])
    later(0.2, lambda: w.set_status("a", "done"))
    records = asyncio.run(wait_for_uploads_async(w, timeout=5))
    assert [r["id"] for r in records] == ["a"]
    with pytest.raises(TimeoutError):
        asyncio.run(wait_for_uploads_async(w, timeout=0.1))


def test_a_real_widget_outside_a_kernel(polling):
    from s3_upload_widget import S3UploadWidget

    w = S3UploadWidget(bucket="b", client=object())
    w.uploads = [rec("x")]
    assert [r["key"] for r in wait_for_uploads(w, timeout=1)] == ["uploads/x.csv"]
    w.close()
    with pytest.raises(RuntimeError, match="closed"):
        wait_for_uploads(w, timeout=1)


def test_a_real_widget_in_plain_python_fails_at_once_saying_where_it_works():
    # No `polling`: this is pytest's own plain Python, no kernel. timeout=None and the
    # default 10 s grace: only an immediate refusal returns (else pytest-timeout fails).
    from s3_upload_widget import S3UploadWidget

    w = S3UploadWidget(bucket="b", client=object())
    try:
        with pytest.raises(RuntimeError) as caught:
            w.wait()
    finally:
        w.close()
    said = str(caught.value)
    assert "needs a Jupyter kernel" in said
    assert "JupyterLab" in said and "w.on_upload" in said and "marimo" in said


class MarimoComm:
    """Stands for marimo's comm, which marimo gives every widget made in its notebooks."""


MarimoComm.__module__ = "marimo._plugins.ui._impl.comm"


@pytest.mark.timeout(60)
def test_in_marimo_wait_fails_at_once_saying_what_to_do_instead(polling):
    # `polling` makes the no-kernel path wait: only the marimo check can end these calls.
    w = FakeWidget([rec("a", "uploading")])
    w.comm = MarimoComm()
    assert _wait.in_marimo(w)
    for call in (
        lambda: wait_for_uploads(w),
        lambda: asyncio.run(wait_for_uploads_async(w)),
    ):
        with pytest.raises(RuntimeError) as caught:
            call()
        said = str(caught.value)
        assert said.startswith("w.wait() cannot work in marimo")
        assert "mo.state" in said and "w.on_upload" in said
        assert "marimo_quickstart.py" in said
    assert w.msg_callbacks == []  # refused before it listened to anything


@pytest.mark.timeout(60)
def test_marimo_running_the_notebook_counts_even_with_another_comm(polling, monkeypatch):
    # A widget made before marimo's comm was in place still runs in marimo.
    w = FakeWidget([rec("a", "uploading")])
    assert not _wait.in_marimo(w)  # pytest is no marimo notebook (marimo is installed)
    monkeypatch.setitem(sys.modules, "marimo", SimpleNamespace(running_in_notebook=lambda: True))
    assert _wait.in_marimo(w)
    with pytest.raises(RuntimeError, match="cannot work in marimo"):
        wait_for_uploads(w)
    broken = SimpleNamespace(running_in_notebook=lambda: 1 / 0)
    monkeypatch.setitem(sys.modules, "marimo", broken)
    assert not _wait.in_marimo(w)


# --- in a real kernel ------------------------------------------------------------------------


class FakeFrontEnd:
    """A kernel (jupyter_client) and a stand-in for the widget's JavaScript.

    It answers nothing the kernel sends; it sends the widget's requests (``comm_msg``
    with anywidget's ``{"method": "custom"}``), optionally addressed to a kernel subshell
    the way JupyterLab >= 4.4 addresses comm messages, and PUTs bytes to the presigned URL.
    """

    def __init__(self, python: str | None = None):
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager

        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "S3_UPLOAD", "JPY_", "PYDEVD"))
        }
        env["PYTHONUNBUFFERED"] = "1"
        if python:  # another interpreter (e.g. an ipykernel 6 environment)
            spec_dir = Path(tempfile.mkdtemp(prefix="s3uw-kernels-"))
            (spec_dir / "s3uw-test").mkdir()
            (spec_dir / "s3uw-test" / "kernel.json").write_text(
                json.dumps(
                    {
                        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                        "display_name": "s3uw test",
                        "language": "python",
                    }
                )
            )
            self.km = KernelManager(
                kernel_name="s3uw-test",
                kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir)]),
            )
        else:
            # kernelspec "python3" starts "python", which jupyter_client replaces by this
            # interpreter (sys.executable): the kernel runs the venv under test.
            self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=env, cwd=os.getcwd())
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.iopub: list[dict] = []
        self.replies: dict[str, dict] = {}
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read_iopub, daemon=True)
        self._reader.start()

    def _read_iopub(self):
        while not self._stop.is_set():
            try:
                self.iopub.append(self.kc.get_iopub_msg(timeout=0.1))
            except queue.Empty:
                continue
            except Exception:
                return

    # -- cells
    def execute(self, code: str) -> str:
        return self.kc.execute(code, stop_on_error=True)

    def reply(self, msg_id: str, timeout: float = 30) -> dict:
        """The shell reply to request msg_id (execute_reply, kernel_info_reply...)."""
        deadline = time.monotonic() + timeout
        while msg_id not in self.replies:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no shell reply to {msg_id}")
            try:
                msg = self.kc.get_shell_msg(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            msg["received"] = time.monotonic()
            self.replies[msg["parent_header"].get("msg_id")] = msg
        return self.replies[msg_id]

    def run(self, code: str, timeout: float = 30) -> str:
        """Run a cell to its end; return its text output. Raises if it raised."""
        msg_id = self.execute(code)
        status = self.reply(msg_id, timeout)["content"]["status"]
        self.wait_idle(msg_id)
        out = self.output(msg_id)
        if status != "ok":
            raise AssertionError(f"cell failed ({status}):\n{code}\n---\n{out}")
        return out

    def wait_idle(self, msg_id: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(
            m["parent_header"].get("msg_id") == msg_id
            and m["msg_type"] == "status"
            and m["content"]["execution_state"] == "idle"
            for m in list(self.iopub)
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"cell {msg_id} never went idle")
            time.sleep(0.01)

    def output(self, msg_id: str) -> str:
        out = []
        for m in list(self.iopub):
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            if m["msg_type"] == "stream":
                out.append(m["content"]["text"])
            elif m["msg_type"] == "error":
                out.append(f"{m['content']['ename']}: {m['content']['evalue']}\n")
            elif m["msg_type"] == "execute_result":
                out.append(m["content"]["data"].get("text/plain", "") + "\n")
        return "".join(out)

    def comm_opened_by(self, msg_id: str) -> str:
        for m in list(self.iopub):
            if (
                m["msg_type"] == "comm_open"
                and m["parent_header"].get("msg_id") == msg_id
                and "bucket" in m["content"]["data"].get("state", {})
            ):
                return m["content"]["comm_id"]
        raise AssertionError("the cell opened no S3UploadWidget comm")

    def create_subshell(self) -> str:
        msg_id = self.kc.kernel_info()
        features = self.reply(msg_id)["content"].get("supported_features", [])
        if "kernel subshells" not in features:
            pytest.skip("this kernel has no subshells (ipykernel < 7): JupyterLab sends none")
        self.kc.control_channel.send(self.kc.session.msg("create_subshell_request", {}))
        return self.kc.control_channel.get_msg(timeout=10)["content"]["subshell_id"]

    # -- the widget's protocol
    def send(self, comm_id: str, content: dict, subshell: str | None = None) -> None:
        msg = self.kc.session.msg(
            "comm_msg", {"comm_id": comm_id, "data": {"method": "custom", "content": content}}
        )
        if subshell:
            msg["header"]["subshell_id"] = subshell
        self.kc.shell_channel.send(msg)

    def request(self, comm_id, kind, args, subshell=None, timeout=30.0) -> dict:
        request_id = uuid.uuid4().hex
        self.send(comm_id, {"id": request_id, "kind": kind, "args": args}, subshell)
        deadline = time.monotonic() + timeout
        while True:
            for m in list(self.iopub):
                if m["msg_type"] == "comm_msg":
                    content = m["content"]["data"].get("content")
                    if isinstance(content, dict) and content.get("id") == request_id:
                        assert content["ok"], content
                        return content["result"]
            if time.monotonic() > deadline:
                raise TimeoutError(f"the kernel did not answer {kind!r} in {timeout:g} s")
            time.sleep(0.01)

    def upload(self, comm_id, files: dict[str, bytes], subshell=None) -> list[dict]:
        """Pick `files` (name -> bytes): add, sign, PUT, complete, like the browser."""
        self.request(comm_id, "hello", {"origin": "http://127.0.0.1:8888"}, subshell)
        described = [{"name": k, "size": len(v), "type": "text/csv"} for k, v in files.items()]
        added = self.request(comm_id, "add-files", {"files": described}, subshell)["uploads"]
        done = []
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        for record, data in zip(added, files.values(), strict=True):
            args = {"upload_id": record["id"], "checksum": b64crc(data)}
            signed = self.request(comm_id, "sign", args, subshell)
            put = urllib.request.Request(
                signed["url"], data=data, method="PUT", headers=signed["headers"]
            )
            with opener.open(put, timeout=30) as response:
                etag = response.headers["ETag"]
            args = {"upload_id": record["id"], "etag": etag}
            done.append(self.request(comm_id, "complete", args, subshell)["record"])
        return done

    def close(self):
        self._stop.set()
        self._reader.join(timeout=2)
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


# Run the kernel tests against another interpreter, e.g. an environment with ipykernel 6:
# S3UW_TEST_KERNEL_PYTHON=/path/to/python pytest tests/test_wait.py
KERNEL_PYTHON = os.environ.get("S3UW_TEST_KERNEL_PYTHON") or None


@pytest.fixture(scope="module")
def fe():
    front = FakeFrontEnd(KERNEL_PYTHON)
    try:
        out = front.run(
            "import sys, ipykernel\n"
            "from s3_upload_widget import LocalS3, S3UploadWidget\n"
            "from s3_upload_widget._wait import wait_for_uploads, wait_for_uploads_async\n"
            "local = LocalS3()\n"
            "print(sys.executable)\n"
            "print('ipykernel', ipykernel.__version__)"
        )
        assert out.splitlines()[0] == (KERNEL_PYTHON or sys.executable), out
        version = out.splitlines()[1].split()[1]
        front.ipykernel = tuple(int(x) for x in version.split(".")[:2])
        yield front
        front.run("local.stop()")
    finally:
        front.close()


@pytest.fixture
def widget(fe):
    """A new widget in the kernel (`w`, with an on_upload callback that prints); its comm."""
    msg_id = fe.execute(
        "w = S3UploadWidget(bucket=local.bucket, prefix='in/', client=local.client)\n"
        "w.on_upload(lambda r: print('on_upload:', r['name']))\n"
        "w"
    )
    assert fe.reply(msg_id)["content"]["status"] == "ok"
    fe.wait_idle(msg_id)
    return fe.comm_opened_by(msg_id)


CSV = b"city,temp\nOslo,3\nLima,19\n"


@pytest.mark.parametrize("route", ["main shell", "subshell (JupyterLab >= 4.4)"])
def test_blocking_cell_serves_the_widget(fe, widget, route):
    subshell = fe.create_subshell() if route.startswith("subshell") else None
    wait_cell = fe.execute(
        "records = wait_for_uploads(w, n=1, timeout=60)\nprint('KEY', records[0]['key'])"
    )
    # "Run All": the next cell is queued behind the waiting one.
    next_cell = fe.execute("print('NEXT', w.key, len(local.read(w.key)))")
    info = fe.kc.kernel_info()  # another request, kept until the wait ends
    time.sleep(0.3)
    t0 = time.monotonic()
    [done] = fe.upload(widget, {"weather.csv": CSV}, subshell)
    answered_in = time.monotonic() - t0
    assert done["status"] == "done" and done["key"].startswith("in/"), done

    assert fe.reply(wait_cell)["content"]["status"] == "ok"
    fe.wait_idle(wait_cell)
    out = fe.output(wait_cell)
    assert f"KEY {done['key']}" in out, out
    assert "on_upload: weather.csv" in out, out  # callback output under the waiting cell
    assert fe.reply(next_cell)["content"]["status"] == "ok"
    fe.wait_idle(next_cell)
    assert f"NEXT {done['key']} {len(CSV)}" in fe.output(next_cell)
    assert fe.reply(info)["received"] >= fe.reply(wait_cell)["received"]
    assert answered_in < 10, f"the widget's 4 requests took {answered_in:.1f} s"


def test_a_batch_comes_back_whole(fe, widget):
    wait_cell = fe.execute("print('KEYS', sorted(r['name'] for r in wait_for_uploads(w, 1, 60)))")
    # No pause: the widget's first message follows the cell's request at once, so the
    # kernel may have read it before the cell started (the wait's rescue() serves it).
    fe.upload(widget, {"a.csv": CSV, "b.csv": CSV * 2})
    fe.wait_idle(wait_cell)
    assert "KEYS ['a.csv', 'b.csv']" in fe.output(wait_cell)


def test_without_wait_a_blocking_cell_starves_the_widget(fe, widget):
    """The problem wait_for_uploads solves: a sleep loop never sees the upload."""
    cell = fe.execute(
        "import time\nt0 = time.monotonic()\n"
        "while not w.key and time.monotonic() - t0 < 1.5:\n    time.sleep(0.05)\n"
        "print('KEY', repr(w.key))"
    )
    time.sleep(0.2)
    fe.upload(widget, {"late.csv": CSV})  # answered only once the cell has ended
    fe.wait_idle(cell)
    assert "KEY ''" in fe.output(cell)


def test_timeout_then_the_kernel_goes_on(fe, widget):
    cell = fe.execute("wait_for_uploads(w, 1, timeout=0.5)")
    queued = fe.execute("print('should not run')")
    assert fe.reply(cell)["content"]["status"] == "error"
    fe.wait_idle(cell)
    assert "TimeoutError: Waited 0.5 s" in fe.output(cell)
    # As after any error, the cells queued behind it are aborted...
    assert fe.reply(queued)["content"]["status"] == "aborted"
    # ...and then the kernel and the widget work as before.
    [done] = fe.upload(widget, {"after.csv": CSV})
    assert fe.run("print(w.key)").strip() == done["key"]


def test_interrupt_stops_the_wait(fe, widget):
    cell = fe.execute("wait_for_uploads(w, 1)")
    queued = fe.execute("print('should not run')")
    time.sleep(0.5)
    fe.km.interrupt_kernel()
    assert fe.reply(cell)["content"]["status"] == "error"
    fe.wait_idle(cell)
    assert "KeyboardInterrupt" in fe.output(cell)
    assert fe.reply(queued)["content"]["status"] == "aborted"
    [done] = fe.upload(widget, {"after.csv": CSV})
    assert fe.run("print(w.key)").strip() == done["key"]


def test_no_browser_in_the_kernel(fe):
    cell = fe.execute(
        "w2 = S3UploadWidget(bucket=local.bucket, client=local.client)\n"
        "wait_for_uploads(w2, 1, timeout=30, frontend_grace=0.3)"
    )
    assert fe.reply(cell)["content"]["status"] == "error"
    fe.wait_idle(cell)
    assert "No browser is showing this widget" in fe.output(cell)


def test_async_wait(fe, widget):
    cell = fe.execute("records = await wait_for_uploads_async(w, 1, 60)\nprint('KEY', w.key)")
    if fe.ipykernel < (7, 4):  # comm messages wait behind an awaiting cell there
        fe.wait_idle(cell)
        assert "RuntimeError: With ipykernel" in fe.output(cell)
        return
    time.sleep(0.3)
    [done] = fe.upload(widget, {"async.csv": CSV})
    fe.wait_idle(cell)
    assert f"KEY {done['key']}" in fe.output(cell)


def test_a_message_the_kernel_read_before_the_cell_started(fe, widget):
    """Messages that arrive while another cell runs are read by the kernel, all at once,
    when it ends: a widget message queued behind the waiting cell's request is then
    already out of the socket when the wait starts. rescue() serves it. (Without rescue
    the wait reports "no browser"; that control case depends on timing, so it is not a
    test here: see docs/wait.md.)"""
    fe.execute("import time\ntime.sleep(1)")  # busy: what follows waits in the socket
    wait_cell = fe.execute(
        "print('GOT', len(wait_for_uploads(w, 1, timeout=3, frontend_grace=1.5)))"
    )
    answered = fe.request(widget, "hello", {"origin": "http://127.0.0.1:8888"}, timeout=10)
    assert answered == {"records": []}
    fe.wait_idle(wait_cell)
    out = fe.output(wait_cell)
    assert "TimeoutError: Waited 3 s: no file arrived" in out, out
