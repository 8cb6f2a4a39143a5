"""zipline's built-in factors, each vectorised over a block of dates: windows (n_dates, window_length, n_assets).

The formulas are zipline's (NaN-aware means and sums where zipline uses them, plain ones where it does not), so the
figures match a zipline-reloaded run on the same data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from runtime.pipeline.data import EquityPricing
from runtime.pipeline.errors import PipelineError
from runtime.pipeline.factors import CustomFactor, quiet
from runtime.pipeline.term import NotSpecified, Term


def nanmean_windows(w: np.ndarray) -> np.ndarray:
    """numpy.nanmean over axis 1, the same sums in the same order, without a copy when ``w`` is a fresh block
    (the loaders' adjusted windows are: they are not shared with anything else)."""
    if not (w.flags.writeable and w.flags.c_contiguous and w.dtype == np.float64):
        return np.nanmean(w, axis=1)
    missing = np.isnan(w)
    np.copyto(w, 0.0, where=missing)
    count = w.shape[1] - missing.sum(axis=1)
    return w.sum(axis=1) / count


class _Builtin(CustomFactor):
    _vectorised = True
    _single_input = False

    def _validate(self) -> None:
        super()._validate()
        if self._single_input and len(self.inputs) != 1:
            raise PipelineError(f"{type(self).__name__} takes exactly one input (inputs=[...]), got "
                                f"{len(self.inputs)}")


class Returns(_Builtin):
    """Percent change of the close over the window: (close[-1] - close[0]) / close[0]; window_length >= 2."""

    inputs = (EquityPricing.close,)
    window_safe = True

    def _validate(self) -> None:
        super()._validate()
        if self.window_length < 2:
            raise PipelineError("Returns needs window_length >= 2 (2 gives daily returns)")

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        w = windows[0]
        with quiet():
            return (w[:, -1] - w[:, 0]) / w[:, 0]


class DailyReturns(Returns):
    """Returns over two sessions (the previous session's close over the one before)."""

    window_length = 2


class PercentChange(_Builtin):
    """(new - old) / abs(old) of any input over the window; window_length >= 2."""

    window_safe = True
    _single_input = True

    def _validate(self) -> None:
        super()._validate()
        if self.window_length < 2:
            raise PipelineError("PercentChange needs window_length >= 2")

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        w = windows[0]
        with quiet():
            return (w[:, -1] - w[:, 0]) / np.abs(w[:, 0])


class SimpleMovingAverage(_Builtin):
    """Mean of the input over the window, ignoring NaN."""

    _single_input = True

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        with quiet():
            return nanmean_windows(windows[0])


class WeightedAverageValue(_Builtin):
    """sum(base * weight) / sum(weight) over the window, ignoring NaN."""

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        base, weight = windows
        with quiet():
            return np.nansum(base * weight, axis=1) / np.nansum(weight, axis=1)


class VWAP(WeightedAverageValue):
    """Volume-weighted average close over the window."""

    inputs = (EquityPricing.close, EquityPricing.volume)


class AverageDollarVolume(_Builtin):
    """Mean daily close x volume over the window (NaN days count as 0: nansum / window_length)."""

    inputs = (EquityPricing.close, EquityPricing.volume)

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        close, volume = windows
        return np.nansum(close * volume, axis=1) / close.shape[1]


class MaxDrawdown(_Builtin):
    """Largest peak-to-trough fall over the window, as a fraction of the trough: (peak - trough) / trough."""

    _single_input = True

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        data = windows[0]
        with quiet():
            running_max = np.fmax.accumulate(data, axis=1)
            drawdowns = running_max - data
            drawdowns[np.isnan(drawdowns)] = -np.inf
            end = np.argmax(drawdowns, axis=1)[:, None, :]
            peak = np.take_along_axis(running_max, end, axis=1)[:, 0]
            trough = np.take_along_axis(data, end, axis=1)[:, 0]
            return (peak - trough) / trough


class LinearWeightedMovingAverage(_Builtin):
    """Weighted mean with weights 1..window_length (newest heaviest), NaN as 0."""

    _single_input = True

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        data = windows[0]
        n = data.shape[1]
        weights = np.arange(1, n + 1, dtype=float).reshape(1, n, 1)
        return np.nansum(data * weights, axis=1) / (n * (n + 1) / 2)


def exponential_weights(length: int, decay_rate: float) -> np.ndarray:
    """[decay_rate ** length, ..., decay_rate ** 2, decay_rate]: the weights of the EWM factors (oldest first)."""
    return np.full(length, decay_rate, dtype=float) ** np.arange(length + 1, 1, -1)


class _ExponentialWeightedFactor(_Builtin):
    params = ("decay_rate",)
    _single_input = True

    @classmethod
    def from_span(cls, inputs: Any, window_length: int, span: float, **kwargs: Any) -> Any:
        """decay_rate = 1 - 2 / (1 + span), like pandas' ``ewm(span=...)``."""
        if span <= 1:
            raise PipelineError(f"span must be > 1, got {span}")
        return cls(inputs=inputs, window_length=window_length, decay_rate=1.0 - 2.0 / (1.0 + span), **kwargs)

    @classmethod
    def from_halflife(cls, inputs: Any, window_length: int, halflife: float, **kwargs: Any) -> Any:
        """decay_rate = exp(log(0.5) / halflife)."""
        if halflife <= 0:
            raise PipelineError(f"halflife must be > 0, got {halflife}")
        return cls(inputs=inputs, window_length=window_length, decay_rate=math.exp(math.log(0.5) / halflife),
                   **kwargs)

    @classmethod
    def from_center_of_mass(cls, inputs: Any, window_length: int, center_of_mass: float, **kwargs: Any) -> Any:
        """decay_rate = 1 - 1 / (1 + center_of_mass)."""
        return cls(inputs=inputs, window_length=window_length,
                   decay_rate=1.0 - 1.0 / (1.0 + center_of_mass), **kwargs)


class ExponentialWeightedMovingAverage(_ExponentialWeightedFactor):
    """Exponentially weighted mean over the window (NaN propagates, as in zipline)."""

    def _compute_windows(self, windows: list[np.ndarray], decay_rate: float) -> np.ndarray:
        data = windows[0]
        return np.average(data, axis=1, weights=exponential_weights(data.shape[1], decay_rate))


class ExponentialWeightedMovingStdDev(_ExponentialWeightedFactor):
    """Exponentially weighted standard deviation over the window, bias-corrected (NaN propagates)."""

    def _compute_windows(self, windows: list[np.ndarray], decay_rate: float) -> np.ndarray:
        data = windows[0]
        weights = exponential_weights(data.shape[1], decay_rate)
        mean = np.average(data, axis=1, weights=weights)
        variance = np.average((data - mean[:, None, :]) ** 2, axis=1, weights=weights)
        squared_weight_sum = np.sum(weights) ** 2
        bias_correction = squared_weight_sum / (squared_weight_sum - np.sum(weights ** 2))
        return np.sqrt(variance * bias_correction)


EWMA = ExponentialWeightedMovingAverage
EWMSTD = ExponentialWeightedMovingStdDev


class AnnualizedVolatility(_Builtin):
    """Standard deviation (ddof 0, NaN ignored) of daily returns over the window x sqrt(annualization_factor)."""

    inputs = None  # set below (needs Returns)
    params: Any = {"annualization_factor": 252.0}  # noqa: RUF012 (zipline declares params this way)
    window_length = 252

    def _compute_windows(self, windows: list[np.ndarray], annualization_factor: float) -> np.ndarray:
        with quiet():
            return np.nanstd(windows[0], axis=1) * annualization_factor ** 0.5


class BollingerBands(_Builtin):
    """Outputs ``lower``, ``middle``, ``upper``: mean -/+ k standard deviations (ddof 0) of the close."""

    params = ("k",)
    inputs = (EquityPricing.close,)
    outputs = ("lower", "middle", "upper")

    def _compute_windows(self, windows: list[np.ndarray], k: float) -> Any:
        close = windows[0]
        with quiet():
            difference = k * np.nanstd(close, axis=1)
            middle = np.nanmean(close, axis=1)
        return {"lower": middle - difference, "middle": middle, "upper": middle + difference}


class RSI(_Builtin):
    """Relative strength index: 100 - 100 / (1 + mean gain / mean loss) over the window's daily changes."""

    window_length = 15
    inputs = (EquityPricing.close,)
    window_safe = True
    _single_input = True

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        diffs = np.diff(windows[0], axis=1)
        with quiet():
            ups = np.nanmean(np.clip(diffs, 0, np.inf), axis=1)
            downs = np.abs(np.nanmean(np.clip(diffs, -np.inf, 0), axis=1))
            return 100 - (100 / (1 + (ups / downs)))


class FastStochasticOscillator(_Builtin):
    """%K: (last close - lowest low) / (highest high - lowest low) x 100 over the window."""

    inputs = (EquityPricing.close, EquityPricing.low, EquityPricing.high)
    window_safe = True
    window_length = 14

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        closes, lows, highs = windows
        with quiet():
            hh = np.nanmax(highs, axis=1)
            ll = np.nanmin(lows, axis=1)
            return ((closes[:, -1] - ll) / (hh - ll)) * 100


class TrueRange(_Builtin):
    """max(high - low, |high - previous close|, |low - previous close|) of the last session."""

    inputs = (EquityPricing.high, EquityPricing.low, EquityPricing.close)
    window_length = 2

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        highs, lows, closes = windows
        h, lo, prev = highs[:, 1], lows[:, 1], closes[:, 0]
        with quiet():
            return np.nanmax(np.stack([h - lo, np.abs(h - prev), np.abs(lo - prev)]), axis=0)


class MovingAverageConvergenceDivergenceSignal(_Builtin):
    """MACD signal line: the EWMA (signal_period) of fast EWMA - slow EWMA of the close."""

    inputs = (EquityPricing.close,)
    params = ("fast_period", "slow_period", "signal_period")

    def __init__(self, fast_period: int = 12, slow_period: int = 26, signal_period: int = 9, *args: Any,
                 **kwargs: Any) -> None:
        for name, value in (("fast_period", fast_period), ("slow_period", slow_period),
                            ("signal_period", signal_period)):
            if not isinstance(value, int) or value < 1:
                raise PipelineError(f"MACDSignal: {name} must be an integer >= 1, got {value!r}")
        if slow_period <= fast_period:
            raise PipelineError(f"MACDSignal: slow_period ({slow_period}) must be greater than fast_period "
                                f"({fast_period})")
        kwargs.setdefault("window_length", slow_period + signal_period - 1)
        super().__init__(*args, fast_period=fast_period, slow_period=slow_period, signal_period=signal_period,
                         **kwargs)

    @staticmethod
    def _ewma(data: np.ndarray, length: int) -> np.ndarray:
        decay_rate = 1.0 - (2.0 / (1.0 + length))
        return np.average(data, axis=-1, weights=exponential_weights(length, decay_rate))

    def _compute_windows(self, windows: list[np.ndarray], fast_period: int, slow_period: int,
                         signal_period: int) -> np.ndarray:
        close = windows[0]  # (n, L, N)
        slow = self._ewma(np.lib.stride_tricks.sliding_window_view(close, slow_period, axis=1), slow_period)
        fast_windows = np.lib.stride_tricks.sliding_window_view(close, fast_period, axis=1)[:, -signal_period:]
        fast = self._ewma(fast_windows, fast_period)
        macd = fast - slow  # (n, signal, N)
        return self._ewma(np.moveaxis(macd, 1, -1), signal_period)


MACDSignal = MovingAverageConvergenceDivergenceSignal


class PeerCount(_Builtin):
    """How many assets share each asset's classifier label that day."""

    window_length = 1

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        labels, null = self.inputs[0].integral(windows[0][:, -1, :])
        out = np.full(labels.shape, np.nan)
        for i in range(labels.shape[0]):
            _, inverse, counts = np.unique(labels[i], return_inverse=True, return_counts=True)
            ok = labels[i] != null
            out[i, ok] = counts[inverse][ok]
        return out


# ------------------------------------------------------------------------------------------- statistical
def _returns_for(target: Any, returns_length: int) -> Any:
    from runtime.pipeline.filters import AssetExists, SingleAsset

    return Returns(window_length=returns_length, mask=AssetExists() | SingleAsset(target))


class RollingPearson(_Builtin):
    """Pearson correlation of each asset's ``base_factor`` with ``target`` over ``correlation_length`` days
    (NaN if either has a missing value in the window)."""

    window_safe = True

    def __init__(self, base_factor: Term, target: Term, correlation_length: int, mask: Any = NotSpecified):
        if correlation_length < 2:
            raise PipelineError("correlation_length must be >= 2")
        super().__init__(inputs=[base_factor, target], window_length=correlation_length, mask=mask)

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        dep, ind = windows
        with quiet():
            ind_res = ind - ind.mean(axis=1, keepdims=True)
            dep_res = dep - dep.mean(axis=1, keepdims=True)
            ind_var = (ind_res ** 2).mean(axis=1)
            dep_var = (dep_res ** 2).mean(axis=1)
            cov = (ind_res * dep_res).mean(axis=1)
            out = cov / np.sqrt(ind_var * dep_var)
        out = np.where(np.isnan(np.broadcast_to(ind, dep.shape)).sum(axis=1) > 0, np.nan, out)
        return out


class RollingSpearman(RollingPearson):
    """Spearman rank correlation of each asset's ``base_factor`` with ``target`` over the window."""

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        from scipy.stats import rankdata

        dep, ind = windows
        ind = np.broadcast_to(ind, dep.shape)
        bad = np.isnan(dep).any(axis=1) | np.isnan(ind).any(axis=1)
        rd = rankdata(np.nan_to_num(dep), axis=1)
        ri = rankdata(np.nan_to_num(ind), axis=1)
        out = super()._compute_windows([rd, ri])
        return np.where(bad, np.nan, out)


class RollingLinearRegression(_Builtin):
    """Least-squares fit of each asset's ``dependent`` on ``independent`` over the window; outputs ``alpha``,
    ``beta``, ``r_value``, ``p_value``, ``stderr`` (scipy.stats.linregress's figures)."""

    outputs = ("alpha", "beta", "r_value", "p_value", "stderr")

    def __init__(self, dependent: Term, independent: Term, regression_length: int, mask: Any = NotSpecified):
        if regression_length < 2:
            raise PipelineError("regression_length must be >= 2")
        super().__init__(inputs=[dependent, independent], window_length=regression_length, mask=mask)

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> Any:
        from scipy.stats import t as student_t

        y, x = windows
        x = np.broadcast_to(x, y.shape)
        n = y.shape[1]
        with quiet():
            xm, ym = x.mean(axis=1, keepdims=True), y.mean(axis=1, keepdims=True)
            ssxm = ((x - xm) ** 2).mean(axis=1)
            ssym = ((y - ym) ** 2).mean(axis=1)
            ssxym = ((x - xm) * (y - ym)).mean(axis=1)
            r_den = np.sqrt(ssxm * ssym)
            r = np.where(r_den == 0.0, 0.0, ssxym / r_den)
            r = np.clip(r, -1.0, 1.0)
            slope = ssxym / ssxm
            intercept = ym[:, 0] - slope * xm[:, 0]
            if n == 2:
                p = np.where(np.isnan(r), np.nan, 0.0)
                stderr = np.where(np.isnan(r), np.nan, 0.0)
            else:
                df = n - 2
                tiny = 1.0e-20
                tstat = r * np.sqrt(df / ((1.0 - r + tiny) * (1.0 + r + tiny)))
                p = 2 * student_t.sf(np.abs(tstat), df)
                stderr = np.sqrt((1 - r ** 2) * ssym / ssxm / df)
            bad = np.isnan(y).any(axis=1) | np.isnan(x).any(axis=1) | (ssxm == 0)
        res = {"alpha": intercept, "beta": slope, "r_value": r, "p_value": p, "stderr": stderr}
        return {k: np.where(bad, np.nan, v) for k, v in res.items()}


class RollingPearsonOfReturns(RollingPearson):
    """Correlation of each asset's returns with ``target``'s returns over ``correlation_length`` days."""

    def __init__(self, target: Any, returns_length: int, correlation_length: int, mask: Any = NotSpecified):
        returns = _returns_for(target, returns_length)
        super().__init__(returns, returns[target], correlation_length, mask)


class RollingSpearmanOfReturns(RollingSpearman):
    """Spearman correlation of each asset's returns with ``target``'s returns."""

    def __init__(self, target: Any, returns_length: int, correlation_length: int, mask: Any = NotSpecified):
        returns = _returns_for(target, returns_length)
        super().__init__(returns, returns[target], correlation_length, mask)


class RollingLinearRegressionOfReturns(RollingLinearRegression):
    """Regression of each asset's returns on ``target``'s returns (outputs alpha, beta, r_value, p_value,
    stderr)."""

    window_safe = True

    def __init__(self, target: Any, returns_length: int, regression_length: int, mask: Any = NotSpecified):
        returns = _returns_for(target, returns_length)
        super().__init__(returns, returns[target], regression_length, mask)


class SimpleBeta(_Builtin):
    """Beta of each asset's daily returns to ``target``'s over ``regression_length`` days; NaN if more than
    ``allowed_missing_percentage`` of the target's paired returns are missing."""

    window_safe = True
    params = ("allowed_missing_count",)

    def __init__(self, target: Any, regression_length: int, allowed_missing_percentage: float = 0.25) -> None:
        if not isinstance(regression_length, int) or regression_length < 3:
            raise PipelineError("SimpleBeta: regression_length must be an integer >= 3")
        if not 0.0 <= allowed_missing_percentage <= 1.0:
            raise PipelineError("SimpleBeta: allowed_missing_percentage must be between 0 and 1")
        returns = _returns_for(target, 2)
        self._target = target
        super().__init__(inputs=[returns, returns[target]], window_length=regression_length,
                         allowed_missing_count=int(allowed_missing_percentage * regression_length))

    @property
    def target(self) -> Any:
        return self._target

    def _compute_windows(self, windows: list[np.ndarray], allowed_missing_count: int) -> np.ndarray:
        dependents, independent = windows
        with quiet():
            independent = np.where(np.isnan(dependents), np.nan, independent)
            ind_residual = independent - np.nanmean(independent, axis=1, keepdims=True)
            covariances = np.nanmean(ind_residual * dependents, axis=1)
            variances = np.nanmean(ind_residual ** 2, axis=1)
            out = covariances / variances
        out[np.isnan(independent).sum(axis=1) > allowed_missing_count] = np.nan
        return out


AnnualizedVolatility.inputs = (Returns(window_length=2),)
