"""How long one widget message takes to go to the kernel and back, through a real
jupyter_server, with and without the package's server extension (TCP_NODELAY).

No browser: a websocket client speaks the kernel protocol to jupyter_server, opens a
comm on a target that echoes, and times request -> echo, the path every widget request
takes. Both servers run in the same run, one after the other.

    .venv/bin/python -m benchmarks.kernel_rtt [--rounds 200] [--out benchmarks]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from tornado.websocket import websocket_connect

ECHO = """
def _target(comm, open_msg):
    @comm.on_msg
    def _echo(msg):
        comm.send({"echo": msg["content"]["data"]})
get_ipython().kernel.comm_manager.register_target("echo", _target)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _message(session: str, msg_type: str, content: dict) -> dict:
    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "",
              "session": session, "date": "", "version": "5.3"}  # fmt: skip
    return {"header": header, "parent_header": {}, "metadata": {}, "content": content,
            "channel": "shell", "buffers": []}  # fmt: skip


async def _echo_times(port: int, kernel_id: str, rounds: int) -> list[float]:
    session = uuid.uuid4().hex
    url = f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels?token=t&session_id={session}"
    ws = await websocket_connect(url)

    async def until(pred) -> dict:
        while True:
            msg = json.loads(await ws.read_message())
            if pred(msg):
                return msg

    code = {"code": ECHO, "silent": False, "store_history": False, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True}  # fmt: skip
    await ws.write_message(json.dumps(_message(session, "execute_request", code)))
    await until(lambda m: m["msg_type"] == "execute_reply")
    comm_id = uuid.uuid4().hex
    opening = {"comm_id": comm_id, "target_name": "echo", "data": {}}
    await ws.write_message(json.dumps(_message(session, "comm_open", opening)))
    await asyncio.sleep(0.5)
    times = []
    for i in range(rounds):
        start = time.perf_counter()
        data = {"comm_id": comm_id, "data": {"i": i}}
        await ws.write_message(json.dumps(_message(session, "comm_msg", data)))
        await until(
            lambda m, i=i: (
                m["msg_type"] == "comm_msg" and m["content"]["data"].get("echo", {}).get("i") == i
            )
        )
        times.append((time.perf_counter() - start) * 1000)
    ws.close()
    return times


def measure(extension: bool, rounds: int) -> dict:
    """Median / p10 / p90 ms of a comm echo through a fresh jupyter_server."""
    port = _free_port()
    flag = "True" if extension else "False"
    with tempfile.TemporaryDirectory() as root:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--IdentityProvider.token=t",
             f"--port={port}", "--ip=127.0.0.1", "--no-browser", "--allow-root",
             f"--ServerApp.root_dir={root}",
             f"--ServerApp.jpserver_extensions={{'s3_upload_widget': {flag}}}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    urllib.request.urlopen(base + "/api?token=t", timeout=2)
                    break
                except OSError:
                    time.sleep(0.1)
            made = urllib.request.Request(base + "/api/kernels?token=t", data=b"{}", method="POST")
            kernel_id = json.load(urllib.request.urlopen(made, timeout=60))["id"]
            times = asyncio.run(_echo_times(port, kernel_id, rounds))
        finally:
            server.terminate()
            server.wait(timeout=30)
    times.sort()
    return {
        "extension": extension,
        "rounds": rounds,
        "median_ms": round(statistics.median(times), 1),
        "p10_ms": round(times[len(times) // 10], 1),
        "p90_ms": round(times[len(times) * 9 // 10], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()
    results = [measure(False, args.rounds), measure(True, args.rounds)]
    (args.out / "kernel_rtt.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "| jupyter_server | median | p10 | p90 |",
        "|---|---|---|---|",
        *(
            f"| {'with' if r['extension'] else 'without'} the extension (TCP_NODELAY) | "
            f"{r['median_ms']} ms | {r['p10_ms']} ms | {r['p90_ms']} ms |"
            for r in results
        ),
    ]
    (args.out / "kernel_rtt.md").write_text(
        "# One widget message to the kernel and back\n\n"
        f"A comm echo through jupyter_server, {args.rounds} rounds each, same run "
        "(`python -m benchmarks.kernel_rtt`).\n\n" + "\n".join(lines) + "\n"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
