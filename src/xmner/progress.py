"""Progress on stderr: tqdm bars on a terminal, plain lines everywhere (one per event).

Off a terminal (a log file, a pipe, CI) bars are switched off, since their carriage returns
make unreadable logs; the plain lines (an epoch's loss and dev F1, a finished cell) are printed
either way, above any bar. A ``Task`` is one named step (a translation, fastText, alignment,
image features): a start and an end line either way, a bar on a terminal, and off a terminal
a line at every tenth of the work and whenever ``interval`` seconds passed without one, so a
log is never silent for longer than that, even while work that cannot be counted runs.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

INTERVAL = 10.0  # seconds: the longest a running step stays silent off a terminal


def interactive() -> bool:
    """Whether stderr is a terminal (bars are drawn) rather than a file or a pipe."""
    return sys.stderr.isatty()


def bar(total: int, initial: int, desc: str, unit: str = "batch"):
    """A tqdm bar on stderr that disappears when done; disabled off a terminal."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total, initial=initial, desc=desc, unit=unit, leave=False, file=sys.stderr,
        disable=not interactive(),
    )  # fmt: skip


def say(text: str) -> None:
    """One progress line on stderr (above any bar on a terminal)."""
    from tqdm.auto import tqdm

    tqdm.write(text, file=sys.stderr)


def duration(seconds: float) -> str:
    """``0.4 s``, ``17 s``, ``2 min 05 s`` or ``1 h 02 min``."""
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s // 60 % 60:02d} min"


class Task:
    """The progress of one named step, used as a context manager.

    ``total`` items (``unit`` names them, plural) are counted with ``update``/``set``; with
    ``total`` None (work that cannot be counted, e.g. fastText in a subprocess) it is a
    heartbeat: ``running for 20 s`` lines. ``what`` describes the input on the start line;
    ``result`` (set before the end) is appended to the end line. Disabled, it does nothing.
    ``interval`` defaults to ``INTERVAL``. A ``ticker`` thread calls ``tick`` every second, so
    a blocked caller is not silent; tests with a fake ``clock`` turn it off and tick themselves.
    """

    def __init__(
        self,
        name: str,
        total: int | None = None,
        unit: str = "items",
        *,
        initial: int = 0,
        what: str = "",
        enabled: bool = True,
        interval: float | None = None,
        every: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        ticker: bool = True,
    ) -> None:
        self.name, self.total, self.unit, self.what = name, total, unit, what
        self.enabled, self.clock = enabled, clock
        self.interval = INTERVAL if interval is None else interval
        self.done = initial  # items done before this process started (a resumed step)
        self.result = ""
        self._bar = None
        self._lock = threading.Lock()
        self.ticker = ticker
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = self._last = 0.0
        self._parts = max(1, round(1 / every))  # a line at each of these parts of ``total``
        self._part = initial * self._parts // total if total else 0  # the last part said

    def __enter__(self) -> Task:
        return self.start()

    def __exit__(self, kind, value, tb) -> None:
        self.close(ok=kind is None)

    def start(self) -> Task:
        """Say the start line, draw the bar, start the ticker; returns the task."""
        if not self.enabled:
            return self
        self._t0 = self._last = self.clock()
        what = self.what or (f"{self.total} {self.unit}" if self.total is not None else "")
        say(f"{self.name} · started" + (f" ({what})" if what else ""))
        if interactive():
            from tqdm.auto import tqdm

            fmt = None if self.total is not None else "{desc} · running for {elapsed}"
            self._bar = tqdm(
                total=self.total, initial=self.done, desc=self.name,
                unit=self.unit.rstrip("s") or "it", leave=False, file=sys.stderr, bar_format=fmt,
            )  # fmt: skip
        if self.ticker:
            self._thread = threading.Thread(target=self._tick_until_stopped, daemon=True)
            self._thread.start()
        return self

    def close(self, ok: bool = True) -> None:
        """Stop the ticker, remove the bar and, if ``ok``, say the end line."""
        if not self.enabled:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._bar is not None:
            self._bar.close()
        if ok:  # an error or Ctrl-C says its own line
            say(self._end_line())

    def update(self, n: int = 1) -> None:
        """``n`` more items done."""
        self.set(self.done + n)

    def set(self, done: int, total: int | None = None) -> None:
        """``done`` items done so far (of ``total``, when it became known only now)."""
        if not self.enabled:
            return
        with self._lock:
            if total is not None and total != self.total:
                self.total = total
                if self._bar is not None:
                    self._bar.total = total
            step, self.done = done - self.done, done
            if self._bar is not None:
                self._bar.update(step)
                return
            part = done * self._parts // self.total if self.total else 0
            if part > self._part and done < self.total:
                self._part = part
                self._line()
            elif self.clock() - self._last >= self.interval:
                self._line()

    def say(self, text: str) -> None:
        """A line about this step (a refinement round), printed either way."""
        self.line(f"{self.name} · {text}")

    def line(self, text: str) -> None:
        """A line printed as it is (an epoch's), either way; it counts as the step speaking."""
        if not self.enabled:
            return
        with self._lock:
            self._last = self.clock()
            say(text)

    def tick(self) -> None:
        """Off a terminal: a line if ``interval`` seconds passed without one; on it: redraw."""
        if not self.enabled:
            return
        with self._lock:
            if self._bar is not None:
                self._bar.refresh()
            elif self.clock() - self._last >= self.interval:
                self._line()

    def elapsed(self) -> float:
        """Seconds since the step started."""
        return self.clock() - self._t0

    def _tick_until_stopped(self) -> None:
        while not self._stop.wait(min(1.0, self.interval / 2)):
            self.tick()

    def _line(self) -> None:
        """The state now as one line (the lock is held)."""
        self._last = self.clock()
        took = duration(self.elapsed())
        if self.total is None:
            say(f"{self.name} · running for {took}")
        elif self.done == 0:  # an engine or a model still loading, say
            say(f"{self.name} · none of {self.total} {self.unit} done yet · {took}")
        else:
            pct = 100 * self.done / self.total if self.total else 100
            say(f"{self.name} · {self.done}/{self.total} {self.unit} ({pct:.0f}%) · {took}")

    def _end_line(self) -> str:
        count = f" · {self.done}/{self.total} {self.unit}" if self.total is not None else ""
        end = f"{self.name}{count} · done in {duration(self.elapsed())}"
        return end + (f" · {self.result}" if self.result else "")
