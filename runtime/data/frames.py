"""The two places the runtime builds pandas objects through pandas' internals, for speed, fenced here.

``data.history`` and the data portal build thousands of small frames and index slices a second; pandas' public
constructors spend most of that time checking their arguments. Each builder below is checked against the public
constructor once, when it is made (same values, types, index objects, memory sharing and copy-on-write
references); on any difference, or when the installed pandas has moved its internals, the public constructor is
used instead, so a new pandas release is slower at worst, never wrong. Nothing else in runtime/ touches a pandas
internal (tests/house checks it).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

FrameBuilder = Callable[[np.ndarray, pd.Index, pd.Index], pd.DataFrame]


def index_slicer(index: pd.DatetimeIndex) -> Callable[[int, int], pd.DatetimeIndex]:
    """A function ``(start, stop) -> index[start:stop]`` that skips pandas' slicing overhead (~10 us a call) when
    the installed pandas allows it; checked against plain slicing once, else plain slicing is used."""
    values = index.tz_convert(None).to_numpy() if index.tz is not None else index.to_numpy()
    dtype = index.dtype

    def fast(start: int, stop: int) -> pd.DatetimeIndex:
        from pandas.core.arrays import DatetimeArray

        return pd.DatetimeIndex._simple_new(DatetimeArray._simple_new(values[start:stop], dtype=dtype))

    def plain(start: int, stop: int) -> pd.DatetimeIndex:
        return index[start:stop]

    try:
        n = len(index)
        for a, b in ((0, min(n, 3)), (max(n - 5, 0), n), (0, 0)):
            if not fast(a, b).equals(plain(a, b)) or fast(a, b).dtype != dtype:
                return plain
        return fast
    except Exception:  # another pandas: the private constructors moved
        return plain


def frame_builder(frame_class: type[pd.DataFrame]) -> FrameBuilder:
    """A function ``(values, index, columns) -> frame_class`` equal to ``frame_class(values, index=index,
    columns=columns, copy=False)`` for a 2-d float array, skipping the constructor's argument inspection (~4 us a
    call) when the installed pandas allows it; checked against the constructor once, else the constructor is used."""

    def plain(values: np.ndarray, index: pd.Index, columns: pd.Index) -> pd.DataFrame:
        return frame_class(values, index=index, columns=columns, copy=False)

    try:
        from pandas._libs.internals import BlockPlacement
        from pandas.core.internals import BlockManager
        from pandas.core.internals.blocks import new_block_2d

        from_mgr = frame_class._from_mgr
        placements: dict[int, BlockPlacement] = {}

        def fast(values: np.ndarray, index: pd.Index, columns: pd.Index) -> pd.DataFrame:
            if values.dtype.kind != "f" or values.ndim != 2 or values.shape != (len(index), len(columns)):
                return plain(values, index, columns)
            k = values.shape[1]
            placement = placements.get(k)
            if placement is None:
                placement = placements[k] = BlockPlacement(slice(0, k))
            mgr = BlockManager((new_block_2d(values.T, placement=placement),), [columns, index],
                               verify_integrity=False)
            return from_mgr(mgr, mgr.axes)

        for order in ("F", "C"):
            sample = np.asarray(np.arange(6.0).reshape(3, 2), order=order)
            index = pd.DatetimeIndex(["2020-01-02", "2020-01-03", "2020-01-06"])
            columns = pd.Index(["a", "b"], dtype=object)
            want, got = plain(sample, index, columns), fast(sample, index, columns)
            if not (got.equals(want) and type(got) is type(want) and got.index is want.index
                    and got.columns is want.columns and got.dtypes.equals(want.dtypes)
                    and np.shares_memory(got.to_numpy(), sample)
                    and got.to_numpy().flags.f_contiguous == want.to_numpy().flags.f_contiguous
                    and got._mgr.blocks[0].refs.has_reference() == want._mgr.blocks[0].refs.has_reference()):
                return plain
        return fast
    except Exception:  # another pandas: the internals moved
        return plain
