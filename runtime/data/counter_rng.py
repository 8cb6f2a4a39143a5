"""Counter-based random numbers: a value is a pure function of (seed, stream, asset, instant).

Synthetic bars drawn this way do not depend on the requested range or on which other assets are generated with
them: a backtest of 2005 and one of 2005-2010 see the very same 2005 minutes. The mixing function is SplitMix64's
finaliser on uint64 arrays (wrapping arithmetic), fully vectorised.
"""

from __future__ import annotations

import numpy as np

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_MASK = (1 << 64) - 1


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser of ``x + gamma`` (uint64 in, uint64 out)."""
    with np.errstate(over="ignore"):
        z = x + _GAMMA
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def _keys(seed: int, stream: int, sids: np.ndarray) -> np.ndarray:
    base = _mix(np.array([(seed * 0x632BE59BD9B4E019 + stream * 0x8CB92BA72F3D8DD7) & _MASK], dtype=np.uint64))
    return _mix(base ^ np.asarray(sids, dtype=np.int64).astype(np.uint64))


def uniform(seed: int, stream: int, sids: np.ndarray, ticks: np.ndarray) -> np.ndarray:
    """float64 (len(ticks), len(sids)) uniform on the open interval (0, 1), one per (tick, sid)."""
    t = _mix(np.asarray(ticks, dtype=np.int64).astype(np.uint64))
    z = _mix(t[:, None] ^ _keys(seed, stream, sids)[None, :])
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def normal(seed: int, stream: int, sids: np.ndarray, ticks: np.ndarray) -> np.ndarray:
    """Standard normal draws (Box-Muller over two independent uniform streams), shape (len(ticks), len(sids))."""
    u1 = uniform(seed, 2 * stream, sids, ticks)
    u2 = uniform(seed, 2 * stream + 1, sids, ticks)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
