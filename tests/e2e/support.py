"""What every part of the e2e harness shares: deadlines and waiting, ports, seeded test data.

Importable outside pytest (the benchmarks use it too).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class E2ETimeout(AssertionError):
    """A wait ran past its deadline. An AssertionError so pytest prints the message."""


class KernelError(AssertionError):
    """The probe cell raised in the kernel; the message holds the cell's output text."""


def env_flag(name: str) -> bool:
    """Whether the environment variable ``name`` is set to something other than 0/false/no."""
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def wait_until(
    fn: Callable[[], Any],
    *,
    timeout: float,
    message: str,
    page: Any = None,
    interval: float = 0.2,
) -> Any:
    """Call ``fn`` until it returns something truthy; return that value.

    Raises E2ETimeout naming ``message`` and the last value (or exception) after
    ``timeout`` seconds. With ``page`` it sleeps with ``page.wait_for_timeout`` so that
    sync Playwright keeps delivering events (console, websockets) while we wait.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    last_exc: BaseException | None = None
    while True:
        try:
            last = fn()
            last_exc = None
            if last:
                return last
        except (E2ETimeout, KernelError):
            raise
        except Exception as exc:  # keep polling; report it if time runs out
            last_exc = exc
        if time.monotonic() >= deadline:
            detail = f"last exception: {last_exc!r}" if last_exc else f"last value: {last!r}"
            raise E2ETimeout(f"timed out after {timeout:g} s: {message} ({detail})")
        if page is not None:
            page.wait_for_timeout(interval * 1000)
        else:
            time.sleep(interval)


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- test data -------------------------------------------------------------------------


def make_random_file(path: str | os.PathLike, size: int, seed: int | str = 0) -> Path:
    """Write ``size`` bytes from a seeded random stream (not a repeated pattern, so a part
    uploaded twice or into the wrong slot changes the bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    chunk = 1 << 20
    remaining = size
    with open(path, "wb") as f:
        while remaining > 0:
            n = min(chunk, remaining)
            f.write(rng.randbytes(n))
            remaining -= n
    return path


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_json(path: Path, obj: dict) -> None:
    """Write ``obj`` as indented JSON, making the parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2))
