"""Every widget option's default, limits and validation, in one place.

Placeholder during the refactor of issue 8: filled in by the Python side.
"""

from __future__ import annotations

MiB = 1024**2

# Measured (benchmarks/results.md): below ~100 MiB one PUT beats multipart (no part
# round trips, no assembly), and a failed 100 MiB PUT is still cheap to send again.
DEFAULT_MULTIPART_THRESHOLD = 100 * MiB
# Measured: 4 parts in flight beat 2 clearly; 6 gained nothing on loopback and uses all
# six of the browser's connections to the host. The browser never opens more than 6.
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 6
DEFAULT_PART_SIZE = 16 * MiB
