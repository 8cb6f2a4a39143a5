"""Data layer: calendar-aligned bar stores (bundled sample, CSV/Parquet folders, synthetic bars) and asset lookup.

Entry point for a run: :func:`load_bars`. The store is :class:`BarArrays` (unadjusted prices plus cumulative
adjustment factors); :class:`AssetFinder` resolves symbols and sids.
"""

from runtime.data.actions import Dividend, Split
from runtime.data.adjustments import derive_actions, snap_split_ratio
from runtime.data.aggregate import aggregate_daily
from runtime.data.builder import AssetSeries, assemble
from runtime.data.contracts import asset_from_spec
from runtime.data.errors import (
    AmbiguousSymbolError,
    BadTimestampError,
    BadValueError,
    DataError,
    DataFileError,
    DateRangeError,
    DuplicateTimestampError,
    FrequencyError,
    InconsistentBarError,
    MissingColumnError,
    MixedFrequencyError,
    NegativeVolumeError,
    NoDataError,
    OffCalendarError,
    SidNotFoundError,
    SymbolNotFoundError,
)
from runtime.data.finder import AssetFinder
from runtime.data.loaders import load_file, load_folder
from runtime.data.sample import SAMPLE_SYMBOLS, load_sample
from runtime.data.sources import load_bars
from runtime.data.store import DAILY, MINUTE, BarArrays, normalize_frequency
from runtime.data.synthetic import expand_to_minutes, synthetic_bars

__all__ = [
    "DAILY",
    "MINUTE",
    "SAMPLE_SYMBOLS",
    "AmbiguousSymbolError",
    "AssetFinder",
    "AssetSeries",
    "BadTimestampError",
    "BadValueError",
    "BarArrays",
    "DataError",
    "DataFileError",
    "DateRangeError",
    "Dividend",
    "DuplicateTimestampError",
    "FrequencyError",
    "InconsistentBarError",
    "MissingColumnError",
    "MixedFrequencyError",
    "NegativeVolumeError",
    "NoDataError",
    "OffCalendarError",
    "SidNotFoundError",
    "Split",
    "SymbolNotFoundError",
    "aggregate_daily",
    "assemble",
    "asset_from_spec",
    "derive_actions",
    "expand_to_minutes",
    "load_bars",
    "load_file",
    "load_folder",
    "load_sample",
    "normalize_frequency",
    "snap_split_ratio",
    "synthetic_bars",
]
