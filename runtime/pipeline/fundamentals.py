"""Fundamentals from the user's point-in-time table: ``Fundamentals.<col>``, ``morningstar.<group>.<col>`` and the
``Sector`` classifier.

There is no fundamentals vendor: the ``FUNDAMENTALS_FILE`` setting (``--fundamentals FILE``) names a CSV or Parquet
table with the columns ``symbol``, ``date_known`` and one column per field. ``Fundamentals.market_cap`` (and
``morningstar.valuation.market_cap``: the group name is ignored) is that table's ``market_cap`` column, read
point-in-time. ``Sector()`` reads ``morningstar_sector_code`` (or ``sector_code``/``sector``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from runtime.pipeline.classifiers import LatestClassifier
from runtime.pipeline.data import BoundColumn, DataSet
from runtime.pipeline.errors import FundamentalsNotConfigured, PipelineError
from runtime.pipeline.loaders import TableLoader, missing_table_message
from runtime.pipeline.term import INT

SECTOR_COLUMNS = ("morningstar_sector_code", "sector_code", "sector")

#: Morningstar sector codes (Quantopian's Sector constants)
SECTOR_CODES = {
    "BASIC_MATERIALS": 101, "CONSUMER_CYCLICAL": 102, "FINANCIAL_SERVICES": 103, "REAL_ESTATE": 104,
    "CONSUMER_DEFENSIVE": 205, "HEALTHCARE": 206, "UTILITIES": 207, "COMMUNICATION_SERVICES": 308,
    "ENERGY": 309, "INDUSTRIALS": 310, "TECHNOLOGY": 311,
}


class _FundamentalsData(DataSet):
    """The data set behind Fundamentals: columns are created on first use from the table's columns."""

    _loader = "table"
    dataset_name = "Fundamentals"


class FundamentalsNamespace:
    """``Fundamentals`` (and each ``morningstar.<group>``): attribute access gives the table's column."""

    def __init__(self, table: TableLoader | None, label: str = "Fundamentals") -> None:
        self._table = table
        self._label = label

    def __getattr__(self, name: str) -> BoundColumn:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._table is None:
            raise FundamentalsNotConfigured(missing_table_message(f"{self._label}.{name}"))
        if name not in self._table.fields:
            raise PipelineError(f"{self._label}.{name}: the point-in-time table {self._table.source} has no column "
                                f"{name!r}; its columns are {self._table.fields}")
        return column(self._table, name)

    def __repr__(self) -> str:
        return self._label


_COLUMNS: dict[tuple[int, str], BoundColumn] = {}


def column(table: TableLoader, name: str) -> BoundColumn:
    """The bound column ``name`` of the table (one object per table and name, so terms share their values)."""
    key = (id(table), name)
    if key not in _COLUMNS:
        dtype = table.dtype_of(name)
        from runtime.pipeline.term import default_missing

        _COLUMNS[key] = BoundColumn(_FundamentalsData, name, dtype, default_missing(dtype))
    return _COLUMNS[key]


class MorningstarNamespace:
    """``morningstar.valuation``, ``morningstar.asset_classification``...: every group reads the same table."""

    def __init__(self, table: TableLoader | None) -> None:
        self._table = table

    def __getattr__(self, group: str) -> FundamentalsNamespace:
        if group.startswith("__"):
            raise AttributeError(group)
        return FundamentalsNamespace(self._table, f"morningstar.{group}")


def make_sector(table: TableLoader | None) -> type:
    """The ``Sector`` classifier class bound to the run's table (Morningstar sector codes, -1 if unknown)."""

    class Sector(LatestClassifier):
        """Morningstar sector code of each asset, from the table's sector column (int; -1 missing)."""

        dtype = INT
        missing_value = -1
        SECTOR_NAMES: ClassVar[dict[int, str]] = {v: k.replace("_", " ").title() for k, v in SECTOR_CODES.items()}

        def __init__(self, **kwargs: Any) -> None:
            if table is None:
                raise FundamentalsNotConfigured(missing_table_message("Sector()"))
            name = next((c for c in SECTOR_COLUMNS if c in table.fields), None)
            if name is None:
                raise PipelineError(f"Sector(): the point-in-time table {table.source} has none of the columns "
                                    f"{SECTOR_COLUMNS}")
            col = column(table, name)
            if col.dtype != INT:
                col = BoundColumn(_FundamentalsData, name, INT, -1)
            super().__init__(inputs=[col], window_length=1, **kwargs)

    for key, code in SECTOR_CODES.items():
        setattr(Sector, key, code)
    return Sector
