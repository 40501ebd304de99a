"""What one run did on the simulated link, read from the shaping proxy's log
(tests/e2e/netproxy.py `RequestRecord`s, times in this process's ``time.monotonic()``).

Definitions (benchmarks/link.md repeats them):

- **transfer window**: from the first body byte of the first PUT to the last body byte of
  the last PUT, as the proxy received them;
- **goodput**: the PUTs' body bytes / the window;
- **link capacity** ``C6 = min(total cap, 6 × per-connection cap)``: what the link can
  carry for a browser that talks to one S3 host name (6 connections per host); "% of link"
  is goodput / C6. The targets are measured against it. A run over several host names can
  pass 100 % (far: 12 connections may reach the total cap, 400 Mbit/s = 111 % of C6);
- **% of its connections**: goodput / ``min(total cap, n × per-connection cap)`` with n
  the most PUT bodies moving at once in that run: how busy it kept the connections it used;
- **gaps**: on one proxy connection, the time from a PUT's last body byte to the next
  PUT's first body byte (the answer's half round trip, the client's turnaround, a
  preflight if it went on that connection, the next request's half round trip);
- **turnaround**: on one connection, a PUT's answer leaves the proxy → the next request on
  that connection arrives (the next part's or file's preflight, or its PUT): the client's
  own time between two requests (ETag, next URL, a wait for signing, scheduling; with
  Chromium's connection pool, also a wait for the other connections' requests);
- **preflight → PUT**: a preflight's answer leaves the proxy → its PUT (same URL) arrives;
- **S3 answer**: a PUT's last body byte → its answer leaves the proxy, less the half round
  trip the proxy adds there: moto's time to store the body and answer (and the proxy's);
- **sending**: the sum of the PUTs' body durations / the window: PUT bodies moving at once,
  on average.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict

BROWSER_CONNECTIONS_PER_HOST = 6


def capacity_bps(profile: dict, connections: int) -> float | None:
    """min(total cap, connections × per-connection cap); None: no cap at all."""
    caps = [profile[k] for k in ("total_bps",) if profile.get(k)]
    if profile.get("per_connection_bps"):
        caps.append(connections * profile["per_connection_bps"])
    return min(caps) if caps else None


def _stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    v = sorted(values)
    return {
        "n": len(v),
        "median": statistics.median(v),
        "p90": v[min(len(v) - 1, round(0.9 * (len(v) - 1)))],
        "max": v[-1],
        "sum": sum(v),
    }


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    now = best = 0
    for _, d in events:
        now += d
        best = max(best, now)
    return best


BODY_METHODS = ("PUT", "POST")


def summarize(log: list, profile: dict, *, t0: float | None = None, hosts: int = 1) -> dict:
    """The figures of one run from the proxy records of its requests (``log``: copies,
    refused ones included; ``t0``: the pick, monotonic)."""
    log = [r for r in log if not r.outcome.startswith("refused")]
    rtt = profile.get("rtt") or 0.0
    # "PUTs" are every request that carries a file's bytes: PUTs and form POSTs.
    puts = [r for r in log if r.method in BODY_METHODS and r.first_body_byte is not None]
    preflights = [r for r in log if r.method == "OPTIONS"]
    out: dict = {
        "requests": len(log),
        "puts": len(puts),
        "preflights": len(preflights),
        "preflights_per_put": len(preflights) / len(puts) if puts else None,
        "put_statuses": dict(sorted(_count(str(r.status) for r in puts).items())),
        "targets": sorted({r.target for r in log}),
        "hosts": hosts,
    }
    if not puts:
        return out
    start = min(r.first_body_byte for r in puts)
    end = max(r.last_body_byte for r in puts)
    window = end - start
    body = sum(r.body_received for r in puts)
    bodies = [(r.first_body_byte, r.last_body_byte) for r in puts]
    sending_max = _max_overlap(bodies)
    by_conn = defaultdict(list)
    for r in puts:
        by_conn[r.conn].append(r)
    gaps = []
    for rs in by_conn.values():
        rs.sort(key=lambda r: r.first_body_byte)
        gaps += [b.first_body_byte - a.last_body_byte for a, b in itertools.pairwise(rs)]
    open_max = _max_overlap([(r.started, r.ended or end) for r in puts])
    options_by_path = {}
    for r in preflights:
        options_by_path.setdefault(r.path, r)
    turnaround = []
    on_conn = defaultdict(list)
    for r in log:
        on_conn[r.conn].append(r)
    for rs in on_conn.values():
        rs.sort(key=lambda r: r.started)
        turnaround += [b.started - a.ended for a, b in itertools.pairwise(rs)
                       if a.method in BODY_METHODS and a.ended]  # fmt: skip
    to_put = [r.started - options_by_path[r.path].ended for r in puts
              if r.path in options_by_path and options_by_path[r.path].ended]  # fmt: skip
    goodput = body * 8 / window if window > 0 else None
    c6 = capacity_bps(profile, BROWSER_CONNECTIONS_PER_HOST)
    c_used = capacity_bps(profile, sending_max)
    out.update(
        window_s=window,
        body_bytes=body,
        goodput_mbit_s=goodput / 1e6 if goodput else None,
        goodput_mib_s=body / window / 2**20 if window > 0 else None,
        link_capacity_mbit_s=c6 / 1e6 if c6 else None,
        pct_of_link=100 * goodput / c6 if goodput and c6 else None,
        pct_of_its_connections=100 * goodput / c_used if goodput and c_used else None,
        puts_sending_max=sending_max,
        puts_open_max=open_max,
        put_connections=len(by_conn),
        connections=len({r.conn for r in log}),
        sending_avg=sum(b - a for a, b in bodies) / window if window > 0 else None,
        put_body_s=_stats([b - a for a, b in bodies]),
        gap_s=_stats(gaps),
        turnaround_s=_stats(turnaround),
        preflight_to_put_s=_stats(to_put),
        preflight_s=_stats([r.ended - r.started for r in preflights if r.ended]),
        # the server's share: a PUT's last body byte → its answer, less the half round trip
        # the proxy adds; a preflight's time less the round trip
        s3_put_answer_s=_stats([r.ended - r.last_body_byte - rtt / 2 for r in puts if r.ended]),
        s3_preflight_answer_s=_stats([r.ended - r.started - rtt for r in preflights if r.ended]),
    )
    if t0 is not None:
        out["pick_to_first_byte_s"] = start - t0
        out["pick_to_last_byte_s"] = end - t0
    return out


def _count(values) -> dict:
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out
