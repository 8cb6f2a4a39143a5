"""Progress bars for long work (backtests, replays, downloads, reports), drawn by tqdm on stderr.

One small wrapper so every command shows progress the same way and stays quiet when it should:

- a bar is shown only when stderr is a terminal, and never after :func:`configure` ``(quiet=True)`` (the command
  line's ``--quiet``);
- :meth:`Progress.update` is cheap enough for a hot loop: it only adds to a counter, and hands the count to tqdm
  at most every ``min_interval_s`` (0.1 s) of wall time, checked every ``check_every`` calls;
- log lines written through :class:`LogHandler` (the command line's handler) appear above a bar being shown;
- it is a leaf module (it imports nothing from the runtime), so any layer may use it.

Usage::

    from runtime.progress import progress

    with progress(total=len(files), desc="download", unit="file") as bar:
        for f in files:
            fetch(f)
            bar.update(1, postfix=f.name)
"""

from __future__ import annotations

import logging
import sys
import time
from typing import IO, Any

_quiet = False
_shown: list[Progress] = []


def configure(*, quiet: bool) -> None:
    """Turn every progress bar of this process off (``quiet=True``, the command line's ``--quiet``) or back on."""
    global _quiet
    _quiet = bool(quiet)


def enabled(stream: IO[str] | None = None) -> bool:
    """Whether a bar would be shown: not quiet, and ``stream`` (default stderr) is a terminal."""
    if _quiet:
        return False
    stream = stream if stream is not None else sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    """A progress bar that costs (almost) nothing per :meth:`update` and nothing at all when not shown."""

    def __init__(self, total: float | None = None, desc: str = "", unit: str = "it", *, show: bool | None = None,
                 min_interval_s: float = 0.1, check_every: int = 1, stream: IO[str] | None = None) -> None:
        self.shown = enabled(stream) if show is None else bool(show)
        self.count: float = 0
        self._pending: float = 0
        self._calls = 0
        self._check_every = max(int(check_every), 1)
        self._interval = float(min_interval_s)
        self._next = 0.0
        self._postfix: str | None = None
        self._bar: Any = None
        if self.shown:
            import shutil

            from tqdm import tqdm

            # a terminal that reports no size would hide the bar: then $COLUMNS/$LINES or 80 x 24
            size = shutil.get_terminal_size()
            self._bar = tqdm(total=total, desc=desc, unit=unit, file=stream or sys.stderr, ncols=size.columns or 80,
                             nrows=size.lines or 24, leave=False, mininterval=self._interval)
            _shown.append(self)

    def update(self, n: float = 1, postfix: str | None = None) -> None:
        """Add ``n`` done; ``postfix`` (e.g. the date reached) is shown with the next refresh."""
        self.count += n
        if self._bar is None:
            return
        self._pending += n
        if postfix is not None:
            self._postfix = postfix
        self._calls += 1
        if self._calls % self._check_every:
            return
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self._interval
            self._flush()

    def _flush(self) -> None:
        if self._bar is None:
            return
        if self._postfix is not None:
            self._bar.set_postfix_str(self._postfix, refresh=False)
        if self._pending:
            self._bar.update(self._pending)
            self._pending = 0

    def set_description(self, desc: str) -> None:
        if self._bar is not None:
            self._bar.set_description_str(desc)

    def close(self) -> None:
        """Remove the bar from the terminal (the command prints its own summary after it)."""
        if self._bar is not None:
            self._flush()
            self._bar.close()
            self._bar = None
            if self in _shown:
                _shown.remove(self)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stderr log handler that writes above a progress bar being shown (the bar is redrawn under the line)."""

    def emit(self, record: logging.LogRecord) -> None:
        if not _shown:
            super().emit(record)
            return
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=self.stream)
        except Exception:
            self.handleError(record)


def progress(total: float | None = None, desc: str = "", unit: str = "it", **kwargs: Any) -> Progress:
    """A :class:`Progress` bar (shown on a terminal unless configured quiet); use it as a context manager."""
    return Progress(total, desc, unit, **kwargs)


__all__ = ["LogHandler", "Progress", "configure", "enabled", "progress"]
