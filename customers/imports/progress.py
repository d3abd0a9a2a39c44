"""A small progress bar on a text stream (stderr), redrawn in place; no dependency."""

import sys
import time


class ProgressBar:
    def __init__(self, label: str = "", stream=None, width: int = 30):
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.started = time.monotonic()
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.2:
            return
        self._last = now
        elapsed = max(now - self.started, 1e-6)
        fraction = done / total if total else 1
        filled = int(self.width * fraction)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(
            f"\r{self.label} [{bar}] {done}/{total} {fraction:4.0%} {done / elapsed:,.0f} rows/s"
        )
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
