"""The worker threads that answer sign-files and complete-files (`_offload`), and the S3
reads they share (`_batch_handlers`): what waits on S3 no longer holds up other messages,
batches queued meanwhile share one read, and every message is answered."""

from __future__ import annotations

import threading

import pytest

from s3_upload_widget import _protocol as P
from s3_upload_widget._batch_handlers import NOTHING_FOUND, Found, Lookups
from s3_upload_widget._offload import Offloader


class GatedLookups(Lookups):
    """Lookups whose `run` waits for a gate and records each run's keys."""

    def __init__(self, keys, runs, gate, fail=False):
        super().__init__(signer=object(), bucket="b", presence=set(keys))
        self._runs, self._gate, self._fail = runs, gate, fail

    def merge(self, other):
        if not other:
            return self
        if not self:
            return other
        return GatedLookups(self.presence | other.presence, self._runs, self._gate, self._fail)

    def run(self):
        self._runs.append(sorted(self.presence))
        assert self._gate.wait(10)
        if self._fail:
            raise RuntimeError("S3 is down")
        return Found("b", {key: False for key in self.presence})


def make(gate, *, fail=False, plan_raises=False):
    runs, answers = [], []
    lock = threading.RLock()
    answered = threading.Event()

    def plan(msg):
        if plan_raises:
            raise ValueError("a bug while planning")
        return GatedLookups(msg["args"]["keys"], runs, gate, fail)

    def answer(msg, found):
        answers.append((msg.get("id"), msg["kind"], found))
        answered.set()

    offloader = Offloader(plan=plan, answer=answer, lock=lock)
    return offloader, runs, answers, answered


def eventually(condition, timeout=10.0):
    pause = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        pause.wait(0.02)
    raise AssertionError("the workers did not get there")


def msg(kind, request_id, *keys):
    return {"id": request_id, "kind": kind, "args": {"keys": list(keys)}}


def test_other_messages_are_answered_while_a_batch_waits_on_s3():
    gate = threading.Event()
    offloader, runs, answers, _ = make(gate)
    offloader.route(msg(P.COMPLETE_FILES, "c1", "a"))
    offloader.route(msg(P.HELLO, "h1"))  # answered at once, on this thread
    offloader.route(msg(P.SIGN_FILES, "s1", "b"))  # its own worker: not behind c1
    eventually(lambda: len(runs) == 2)
    assert sorted(map(tuple, runs)) == [("a",), ("b",)]  # both reading at once
    assert [a[0] for a in answers] == ["h1"]
    gate.set()
    assert offloader.wait_idle(10)
    assert sorted(a[0] for a in answers) == ["c1", "h1", "s1"]


def test_batches_queued_during_a_read_share_the_next_read():
    gate = threading.Event()
    offloader, runs, answers, _ = make(gate)
    offloader.route(msg(P.COMPLETE_FILES, "c1", "a"))
    eventually(lambda: runs)
    offloader.route(msg(P.COMPLETE_FILES, "c2", "b"))
    offloader.route(msg(P.COMPLETE_FILES, "c3", "c"))
    gate.set()
    assert offloader.wait_idle(10)
    assert runs == [["a"], ["b", "c"]]
    assert [a[0] for a in answers] == ["c1", "c2", "c3"]
    found = {a[0]: a[2] for a in answers}
    assert found["c3"].presence == {"b": False, "c": False}


@pytest.mark.parametrize("how", ["read fails", "plan raises"])
def test_every_message_is_answered_when_reading_ahead_fails(how, caplog):
    gate = threading.Event()
    gate.set()
    offloader, _, answers, _ = make(
        gate, fail=how == "read fails", plan_raises=how == "plan raises"
    )
    offloader.route(msg(P.SIGN_FILES, "s1", "a"))
    offloader.route(msg(P.SIGN_FILES, "s2", "b"))
    assert offloader.wait_idle(10)
    assert sorted(a[0] for a in answers) == ["s1", "s2"]
    assert all(a[2] is NOTHING_FOUND for a in answers)  # the handlers read for themselves
    assert "reading S3 ahead of a batch failed" in caplog.text


def test_an_answer_that_raises_does_not_stop_the_worker(caplog):
    gate = threading.Event()
    gate.set()
    seen = []

    def answer(msg, found):
        seen.append(msg["id"])
        if msg["id"] == "s1":
            raise RuntimeError("send failed")

    offloader = Offloader(plan=lambda m: Lookups(), answer=answer, lock=threading.RLock())
    offloader.route(msg(P.SIGN_FILES, "s1"))
    assert offloader.wait_idle(10)
    offloader.route(msg(P.SIGN_FILES, "s2"))
    assert offloader.wait_idle(10)
    assert seen == ["s1", "s2"]
    assert "could not answer a 'sign-files' request" in caplog.text


def test_lookups_for_another_bucket_are_not_merged_or_used():
    a = Lookups(signer=object(), bucket="one", presence={"k"})
    b = Lookups(signer=object(), bucket="two", presence={"j"})
    assert a.merge(b) is a and Lookups().merge(b) is b and a.merge(Lookups()) is a
    assert not Lookups(bucket="one", presence={"k"})  # no signer: nothing to run
    assert Lookups().run() is NOTHING_FOUND


def test_where_only_the_message_thread_may_send_every_message_is_answered_inline():
    # marimo: what a widget sends from another thread never reaches the page.
    threads = []

    def answer(msg, found):
        threads.append(threading.current_thread())

    offloader = Offloader(
        plan=lambda m: Lookups(), answer=answer, lock=threading.RLock(), inline=lambda: True
    )
    offloader.route(msg(P.SIGN_FILES, "s1"))
    offloader.route(msg(P.COMPLETE_FILES, "c1"))
    assert threads == [threading.current_thread()] * 2
