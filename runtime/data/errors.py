"""Typed errors of the data layer.

Every error a user can cause with their data or their request derives from :class:`DataError` (itself one of the
runtime's errors, :class:`~runtime.errors.IbAlgoError`) and says what is wrong and where: the file, the line (CSV,
counting the header as line 1) or row (Parquet), and the column.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from runtime.errors import AlgorithmApiError, IbAlgoError


class DataError(IbAlgoError):
    """Base class of every data-layer error."""


class DataFileError(DataError):
    """Bad content in one data file; ``path``, ``line`` and ``column`` locate it (``line``/``column`` may be None)."""

    def __init__(self, path: str | Path, problem: str, *, line: int | None = None, column: str | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.column = column
        self.problem = problem
        where = [self.path.name]
        if line is not None:
            kind = "line" if self.path.name.lower().endswith((".csv", ".csv.gz")) else "row"
            where.append(f"{kind} {line}")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {problem}")


class MissingColumnError(DataFileError):
    """A required column is absent; ``column`` is its name, ``found`` the columns the file has."""

    def __init__(self, path: str | Path, column: str, found: Sequence[str], wanted: str | None = None) -> None:
        listing = ", ".join(found) or "none"
        super().__init__(path, f"missing column {wanted or repr(column)} (found: {listing})")
        self.column = column
        self.found = tuple(found)


class BadValueError(DataFileError):
    """A cell could not be read as a number."""


class BadTimestampError(DataFileError):
    """A date/datetime cell could not be parsed."""


class DuplicateTimestampError(DataFileError):
    """Two rows carry the same timestamp."""


class InconsistentBarError(DataFileError):
    """A bar contradicts itself (high below low)."""


class NegativeVolumeError(DataFileError):
    """A negative volume."""


class OffCalendarError(DataFileError):
    """A timestamp that is not a session (daily) or a trading minute (minute) of the exchange calendar."""


class MixedFrequencyError(DataError):
    """Files of one folder hold different bar frequencies."""


class NoDataError(DataError):
    """A folder without usable files, or a request that selects nothing."""


class FrequencyError(DataError, ValueError):
    """An unknown bar frequency, or one the data cannot provide."""


class DateRangeError(DataError):
    """A requested date range outside the available data; the message states the available range.

    ``available`` is (first session, last session) of the data when known. :meth:`outside` builds the standard
    message from the requested and available ranges.
    """

    def __init__(self, message: str, available: tuple[pd.Timestamp, pd.Timestamp] | None = None) -> None:
        self.available = available
        super().__init__(message)

    @classmethod
    def outside(cls, start: pd.Timestamp, end: pd.Timestamp, first: pd.Timestamp, last: pd.Timestamp) -> DateRangeError:
        return cls(
            f"the requested range {start.date()}..{end.date()} is outside the data, which covers "
            f"{first.date()}..{last.date()}: choose a range inside it",
            (first, last),
        )


class SymbolNotFoundError(DataError, AlgorithmApiError, LookupError):
    """An unknown symbol (in the data, or in ``symbol('XYZ')`` / ``sid(n)`` of an algorithm); ``suggestions`` holds
    close matches (possibly empty). ``message`` replaces the standard text."""

    def __init__(self, symbol: str, suggestions: Sequence[str] = (), message: str | None = None) -> None:
        self.symbol = symbol
        self.suggestions = tuple(suggestions)
        hint = f": did you mean {' or '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(message or f"symbol '{symbol}' not found in the loaded data{hint}")


class SidNotFoundError(DataError, LookupError):
    """An unknown security id."""

    def __init__(self, sid: int) -> None:
        self.sid = sid
        super().__init__(f"no asset with sid {sid} in the loaded data")


class AmbiguousSymbolError(DataError):
    """One symbol maps to different assets in the stores given to an AssetFinder."""
