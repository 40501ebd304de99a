"""A widget whose outgoing messages are captured, driven through its message handler."""

from __future__ import annotations

from session_helpers import with_page_checksums

from s3_upload_widget import S3UploadWidget


class Wired:
    """A widget whose outgoing messages are captured, and a way to send it requests."""

    def __init__(self, widget: S3UploadWidget):
        self.widget = widget
        self.sent: list[dict] = []
        widget.send = self.sent.append  # type: ignore[method-assign]
        self._n = 0

    def request(self, kind, **args):
        args = with_page_checksums(kind, args)
        self._n += 1
        self.widget._on_custom_msg(
            self.widget, {"id": str(self._n), "kind": kind, "args": args}, []
        )
        assert self.widget._offload.wait_idle(timeout=60)  # batches: answered by a worker
        reply = self.sent[-1]
        assert reply["id"] == str(self._n)
        return reply

    def ok(self, kind, **args) -> dict:
        reply = self.request(kind, **args)
        assert reply["ok"], reply
        return reply["result"]

    def error(self, kind, code, **args) -> dict:
        reply = self.request(kind, **args)
        assert reply["ok"] is False and reply["error"]["code"] == code, reply
        return reply["error"]

    def add(self, *names_and_sizes, type="text/csv") -> list[dict]:
        files = [{"name": n, "size": s, "type": type} for n, s in names_and_sizes]
        return self.ok("add-files", files=files)["uploads"]
