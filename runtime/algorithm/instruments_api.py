"""IBridgePy's helpers for options, contract details, scanners and margin, the same in every mode.

- ``get_contract_details(secType, symbol, field, ...)``: IB's contract details of a contract; ``field='summary'``
  gives a DataFrame (for ``secType='OPT'`` without strike and expiry: the option chain, one row per contract).
- ``get_option_info(security, fields)`` / ``get_option_greeks(security, fields)``: the model price and greeks of an
  option (``optPrice, delta, gamma, vega, theta, impliedVol, undPrice``).
- ``get_scanner_results(scanCode=..., numberOfRows=..., abovePrice=..., belowPrice=..., aboveVolume=...)``: the
  data's stocks ranked by an IB scan code (:mod:`runtime.core.scanner`), as a DataFrame.
- ``what_if_order(security, amount, limit_price=None)``: IB's what-if answer for an order from the margin rule the
  backtest, the simulated gateway and IB's error 201 apply (:mod:`runtime.core.margin`), before sending it.

Options are priced by one stated model (:mod:`runtime.core.options`: Black-Scholes with the underlying's 30-session
close-to-close volatility, the chain on the NYSE calendar) from the underlying's prices in the run's data, in a
backtest as in paper and live runs. ``superSymbol(secType='OPT', ...)`` resolves an option on any underlying the data
holds; ``superSymbol(secType='STK', symbol='BP.', exchange='LSE', currency='GBP')`` resolves a non-US listing with
its currency and exchange (:mod:`runtime.data.instruments`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from runtime.core import margin
from runtime.core.assets import Asset, SecType, stable_sid
from runtime.core.costs import CommissionModel, IdealproCommission
from runtime.core.ib.contracts import ContractSpec
from runtime.core.options import (
    VOL_WINDOW,
    OptionValue,
    Right,
    SessionCalendar,
    expiry_instant,
    ib_expiry,
    model_value,
    option_chain,
)
from runtime.core.scanner import SCAN_CODES, ScanInput, scan
from runtime.data.builder import AssetSeries, assemble
from runtime.data.contracts import asset_from_spec
from runtime.data.instruments import documented_name, find_listing
from runtime.data.store import DAILY, BarArrays
from runtime.data.synthetic import synthetic_bars
from runtime.errors import AlgorithmApiError

if TYPE_CHECKING:
    from runtime.algorithm.api import AlgorithmAPI
    from runtime.algorithm.ibridgepy_options import IBridgePyConventions
    from runtime.engine.engine import Engine

#: get_option_info's fields
OPTION_FIELDS = ("optPrice", "delta", "gamma", "vega", "theta", "impliedVol", "undPrice")
#: get_contract_details' fields besides 'summary'
DETAIL_FIELDS = ("conId", "symbol", "secType", "exchange", "primaryExchange", "currency", "localSymbol",
                 "multiplier", "minTick", "longName", "lastTradeDateOrContractMonth", "strike", "right",
                 "timeZoneId", "tradingClass")  # fmt: skip
_SCANNER_KEYS = {"scanCode", "numberOfRows", "abovePrice", "belowPrice", "aboveVolume", "instrument", "locationCode",
                 "waitForFeedbackInSeconds"}  # fmt: skip


def option_asset(underlying: str, expiry: str, strike: float, right: str | Right, currency: str = "USD",
                 multiplier: int = 100) -> Asset:  # fmt: skip
    """The Asset of a listed option (OCC local symbol, multiplier 100, strike/right/underlying in ``extra``)."""
    r = Right.parse(right)
    exp = ib_expiry(expiry)
    occ = f"{underlying.upper():<6}{exp[2:]}{r.value}{round(float(strike) * 1000):08d}"
    return Asset(stable_sid(occ, "OPT", currency), underlying.upper(), exchange="SMART", primary_exchange="",
                 sec_type=SecType.OPTION, currency=currency, asset_name=f"{underlying.upper()} {exp} {strike:g} "
                 f"{r.value}", multiplier=float(multiplier), local_symbol=occ, expiry=exp,
                 extra={"strike": f"{float(strike):g}", "right": r.value,
                        "underlying": underlying.upper()})  # fmt: skip


def option_terms(asset: Asset) -> tuple[str, str, float, Right]:
    """(underlying, expiry, strike, right) of an option asset, from its fields or its OCC local symbol."""
    if asset.sec_type is not SecType.OPTION:
        raise AlgorithmApiError(f"{asset!r} is not an option (secType {asset.sec_type.value}); pass the asset of "
                                "superSymbol(secType='OPT', symbol=..., expiry=..., strike=..., right=...)")
    extra = asset.extra or {}
    if "strike" in extra and "right" in extra:
        return extra.get("underlying", asset.symbol), asset.expiry, float(extra["strike"]), Right.parse(extra["right"])
    occ = asset.local_symbol
    if len(occ) == 21 and occ[12] in "CP" and occ[13:].isdigit():
        return occ[:6].strip(), "20" + occ[6:12], int(occ[13:]) / 1000.0, Right.parse(occ[12])
    raise AlgorithmApiError(f"{asset!r}: cannot read the option's strike and right (no OCC local symbol)")


class InstrumentHelpers:
    """Options, contract details, scanners and what-if margin, bound to the algorithm API."""

    exported_names = frozenset({"get_contract_details", "get_option_info", "get_option_greeks",
                                "get_scanner_results", "what_if_order"})  # fmt: skip

    def __init__(self, api: AlgorithmAPI, engine: Engine, conventions: IBridgePyConventions) -> None:
        self._api = api
        self._engine = engine
        self._ib = conventions
        #: daily backtests: adds a daily store of more assets (same sessions) to the run's data and simulated broker,
        #: with commission models by security type for them (set by the backtest's assembly; None elsewhere)
        self.add_data: Callable[[BarArrays, dict[str, CommissionModel]], None] | None = None

    # --------------------------------------------------------------------------------------------- contracts
    def contract_from_model(self, spec: ContractSpec) -> Asset | None:
        """superSymbol's fallback when the data has no such contract: an option on an underlying the data holds
        (with expiry, strike and right), or a non-US stock listing; None for anything else."""
        if spec.sec_type == SecType.OPTION.value and spec.expiry and spec.strike and spec.right:
            self._api.symbol(spec.symbol)  # the underlying must be in the data (a clear error otherwise)
            modelled = option_asset(spec.symbol, spec.expiry, spec.strike, spec.right, spec.currency)
            for a in self._api.finder.assets:  # the data's own bars of the contract come first
                if a.sec_type is SecType.OPTION and a.local_symbol == modelled.local_symbol:
                    return a
            self._add_model_series(modelled)
            return modelled
        if spec.sec_type in (SecType.CASH.value, SecType.FUTURE.value):
            return self._synthetic_contract(spec)
        if spec.sec_type == SecType.STOCK.value and spec.exchange not in ("", "SMART"):
            listing = find_listing(spec.symbol, spec.exchange, spec.currency)
            if listing is not None:
                for a in self._api.finder.assets:
                    if a.symbol == listing.symbol and a.currency == listing.currency:
                        return a
                return Asset(stable_sid(listing.symbol, "STK", listing.currency), listing.symbol,
                             exchange=listing.exchange, primary_exchange=listing.exchange, currency=listing.currency,
                             asset_name=listing.name, extra={"calendar": listing.calendar})  # fmt: skip
        return None

    def _add_store(self, extra: BarArrays, commissions: dict[str, CommissionModel] | None = None) -> bool:
        """Add ``extra``'s assets to the run's data and simulated broker through :attr:`add_data`; False where that
        is not possible (paper and live runs, minute backtests: no ``add_data``)."""
        if self.add_data is None:
            return False
        self.add_data(extra, commissions or {})
        self._api.add_assets(list(extra.assets))
        return True

    def _add_model_series(self, option: Asset) -> None:
        """A daily backtest's bars of an option: its model value (:func:`runtime.core.options.model_value`) at each
        session's close from the underlying's closes, up to its expiry (at expiry: its intrinsic value)."""
        daily = self._engine.portal.daily.bars
        und_symbol, expiry, strike, right = option_terms(option)
        col = daily.sid_to_col.get(self._api.symbol(und_symbol).sid)
        if col is None or option.sid in daily.sid_to_col:
            return
        closes = daily.close[:, col]
        times = daily.times
        last = expiry_instant(expiry).value
        keep = np.flatnonzero((times <= last) & np.isfinite(closes) & (closes > 0))
        if len(keep) == 0:
            return
        prices = np.array([model_value(right, strike, expiry, pd.Timestamp(int(times[i]), tz="UTC"), closes[i],
                                       closes[max(0, i - VOL_WINDOW):i + 1]).price for i in keep])  # fmt: skip
        prices = np.maximum(np.round(prices, 2), 0.01)
        volume = np.full(len(keep), 10_000.0)
        series = AssetSeries(option, times[keep], prices, prices, prices, prices, volume)
        extra = assemble(daily.calendar, DAILY, [series], daily.first_session, daily.last_session)
        if self._add_store(extra):
            self._engine.algo_log.info(
                "%s: %s trades in this backtest at its model value at each close (Black-Scholes on %s's 30-session "
                "volatility, runtime/core/options.py), until its expiry %s", self._ib.call_site(),
                option.local_symbol, und_symbol, expiry)

    def _synthetic_contract(self, spec: ContractSpec) -> Asset | None:
        """A daily backtest's FX pair or future that the data lacks: the seeded synthetic series anchored on its
        documented level (:mod:`runtime.data.instruments`), added to the data, with a warning in the log. None
        when the data has the contract (or it is not a daily backtest, or the instrument has no documented level):
        the data's own lookup then answers."""
        sec = SecType(spec.sec_type)
        symbol = spec.symbol or spec.local_symbol.split(".")[0]
        if any(a.sec_type is sec and a.currency == spec.currency and a.symbol == symbol
               for a in self._api.finder.assets):  # fmt: skip
            return None
        name = documented_name(sec.value, symbol, spec.currency)
        if self._engine.mode != "backtest" or name is None:
            return None
        daily = self._engine.portal.daily.bars
        cal = daily.calendar
        asset = asset_from_spec(f"{sec.value},{symbol},{spec.currency}", futures_roots=True)
        extra = synthetic_bars([asset], cal.session_label(daily.first_session), cal.session_label(daily.last_session),
                               DAILY, seed=0, calendar=cal)  # fmt: skip
        if not self._add_store(extra, {"CASH": IdealproCommission()} if sec is SecType.CASH else None):
            return None
        self._engine.algo_log.warning(
            "%s: no data for %s in this backtest: it trades on seeded synthetic daily prices anchored on the "
            "documented %s level of each date (runtime/data/instruments.py), the generator the simulated gateway "
            "uses (FX commissions: IDEALPRO's 0.2 bps, USD 2 minimum); put '%s.csv' in a data folder (--data DIR) "
            "to backtest real prices", self._ib.call_site(),
            name, name, name if sec is SecType.CASH else f"FUT,{symbol},{spec.currency}")
        return asset

    @cached_property
    def _nyse(self) -> SessionCalendar:
        from runtime.data.calendars import get_calendar

        return SessionCalendar(get_calendar("XNYS").sessions)

    def _today(self) -> pd.Timestamp:
        return self._engine.now.tz_convert(self._engine.calendar.tz).tz_localize(None).normalize()

    def _spot(self, asset: Asset) -> float:
        price = float(self._engine.data.current(asset, "price"))
        if not (price > 0 and math.isfinite(price)):
            raise AlgorithmApiError(f"{self._ib.call_site()}: {asset.symbol} has no price yet at "
                                    f"{self._engine.now}: its options cannot be priced")
        return price

    def get_contract_details(self, secType: str, symbol: str, field: str, currency: str = "USD", exchange: str = "",
                             primaryExchange: str = "", expiry: str = "", strike: float = 0.0, right: str = "",
                             multiplier: str = "", localSymbol: str = "") -> Any:  # fmt: skip
        """IBridgePy: the contract details of a contract; ``field='summary'`` returns a DataFrame (one row per
        matching contract), any other field (``conId``, ``minTick``, ``multiplier``, ``longName``, ``strike``,
        ``lastTradeDateOrContractMonth``, ...) its value (a list when several contracts match).

        ``secType='OPT'`` with the underlying's symbol gives its chain on the current date (expiries on the NYSE
        calendar, strikes around the underlying's price, calls and puts; narrowed by ``expiry``, ``strike``,
        ``right`` when given)."""
        if field != "summary" and field not in DETAIL_FIELDS:
            raise AlgorithmApiError(f"get_contract_details: unknown field {field!r}; use 'summary' or one of "
                                    f"{', '.join(DETAIL_FIELDS)}")
        sec = str(secType or "").strip().upper()
        if sec == "OPT" and not (expiry and strike and right):
            frame = self._chain_frame(str(symbol), currency, expiry, float(strike or 0.0), right)
        else:
            asset = self._api.exported("superSymbol")(secType=secType, symbol=symbol, currency=currency,
                                                      exchange=exchange, primaryExchange=primaryExchange,
                                                      localSymbol=localSymbol, expiry=expiry, strike=strike,
                                                      right=right, multiplier=multiplier)  # fmt: skip
            frame = pd.DataFrame([self._details(asset)])
        if field == "summary":
            return frame
        values = frame[field].tolist() if field in frame.columns else []
        return values[0] if len(values) == 1 else values

    def _details(self, asset: Asset) -> dict[str, Any]:
        row: dict[str, Any] = {
            "conId": asset.con_id or asset.sid, "symbol": asset.symbol, "secType": asset.sec_type.value,
            "exchange": asset.exchange, "primaryExchange": asset.primary_exchange, "currency": asset.currency,
            "localSymbol": asset.local_symbol or asset.symbol, "multiplier": f"{asset.multiplier:g}",
            "minTick": asset.tick_size, "longName": asset.asset_name, "lastTradeDateOrContractMonth": asset.expiry,
            "strike": 0.0, "right": "", "timeZoneId": self._engine.calendar.tz, "tradingClass": asset.symbol,
        }  # fmt: skip
        if asset.sec_type is SecType.OPTION:
            _, _, k, r = option_terms(asset)
            row.update(strike=k, right=r.value, minTick=0.01)
        return row

    def _chain_frame(self, symbol: str, currency: str, expiry: str, strike: float, right: str) -> pd.DataFrame:
        und = self._api.symbol(symbol)
        chain = option_chain(und.symbol, self._spot(und), self._today(), self._nyse, currency=currency or "USD")
        frame = chain.frame()
        frame.insert(0, "conId", [option_asset(und.symbol, e, k, r, currency or "USD").sid
                                  for e, k, r in zip(frame["expiry"], frame["strike"], frame["right"])])  # fmt: skip
        frame["minTick"] = 0.01
        if expiry:
            frame = frame[frame["expiry"].str.startswith(str(expiry).replace("-", ""))]
        if strike:
            frame = frame[frame["strike"] == float(strike)]
        if right:
            frame = frame[frame["right"] == Right.parse(right).value]
        return frame.reset_index(drop=True)

    # --------------------------------------------------------------------------------------------- options
    def _option_value(self, security: Any) -> OptionValue:
        asset = self._api.resolve_asset(security)
        und_symbol, expiry, strike, right = option_terms(asset)
        und = self._api.symbol(und_symbol)
        closes = self._engine.data.history(und, "close", VOL_WINDOW + 1, "1d")
        return model_value(right, strike, expiry, self._engine.now, self._spot(und), closes.to_numpy())

    def get_option_info(self, security: Any, fields: str | list[str] | tuple[str, ...] = OPTION_FIELDS,
                        waitForFeedbackInSeconds: float = 30) -> Any:  # fmt: skip
        """IBridgePy: the option's model price and greeks now. ``fields``: one of optPrice, delta, gamma, vega
        (per volatility point), theta (per calendar day), impliedVol, undPrice (a value), or a list of them (a dict).
        """
        single = isinstance(fields, str)
        names = [fields] if single else list(fields)
        unknown = [f for f in names if f not in OPTION_FIELDS]
        if unknown:
            raise AlgorithmApiError(f"get_option_info: unknown field {unknown[0]!r}; use {', '.join(OPTION_FIELDS)}")
        values = self._option_value(security).as_dict()
        return values[names[0]] if single else {f: values[f] for f in names}

    def get_option_greeks(self, security: Any, fields: str | list[str] | tuple[str, ...] = OPTION_FIELDS) -> Any:
        """IBridgePy's other name of :meth:`get_option_info`."""
        return self.get_option_info(security, fields)

    # --------------------------------------------------------------------------------------------- scanner
    def get_scanner_results(self, **scanner_fields: Any) -> pd.DataFrame:
        """IBridgePy: the data's stocks ranked by an IB scan code now, as a DataFrame with columns ``rank``,
        ``security``, ``symbol``, ``value`` (the ranked figure). Fields: ``scanCode`` (TOP_PERC_GAIN, TOP_PERC_LOSE,
        MOST_ACTIVE, HOT_BY_VOLUME, TOP_PRICE_RANGE, HIGH_VS_52W_HL, LOW_VS_52W_HL), ``numberOfRows`` (default 50),
        ``abovePrice``, ``belowPrice``, ``aboveVolume``; ``instrument``/``locationCode`` are accepted (US stocks)."""
        unknown = sorted(set(scanner_fields) - _SCANNER_KEYS)
        if unknown:
            raise AlgorithmApiError(f"get_scanner_results: unknown field {unknown[0]!r}; use "
                                    f"{', '.join(sorted(_SCANNER_KEYS))}")
        code = str(scanner_fields.get("scanCode", "TOP_PERC_GAIN")).upper()
        if code not in SCAN_CODES:
            raise AlgorithmApiError(f"get_scanner_results: scanCode {code!r} is not served; use one of "
                                    f"{', '.join(SCAN_CODES)}")
        session = self._today()
        assets = [a for a in self._api.finder.assets
                  if a.sec_type is SecType.STOCK and a.is_alive_for_session(session)]  # fmt: skip
        columns = ["rank", "security", "symbol", "value"]
        if not assets:
            return pd.DataFrame(columns=columns)
        history = self._engine.data.history
        closes = history(assets, "close", 253, "1d")
        volumes = history(assets, "volume", 21, "1d")
        highs, lows = history(assets, "high", 1, "1d"), history(assets, "low", 1, "1d")
        universe = []
        for a in assets:
            c = closes[a].dropna()
            v = volumes[a]
            past = c.iloc[:-1]
            universe.append(ScanInput(
                a, float(c.iloc[-1]) if len(c) else math.nan, float(c.iloc[-2]) if len(c) > 1 else math.nan,
                float(v.iloc[-1]), float(v.iloc[:-1].mean()) if len(v) > 1 else math.nan,
                float(highs[a].iloc[-1]), float(lows[a].iloc[-1]),
                float(past.max()) if len(past) else math.nan,
                float(past.min()) if len(past) else math.nan))  # fmt: skip

        def num(name: str) -> float | None:
            value = scanner_fields.get(name)
            return None if value in (None, "") else float(value)

        rows = scan(code, universe, rows=int(scanner_fields.get("numberOfRows", 50)), above_price=num("abovePrice"),
                    below_price=num("belowPrice"), above_volume=num("aboveVolume"))  # fmt: skip
        return pd.DataFrame([(r.rank, r.key, r.key.symbol, r.value) for r in rows], columns=columns)

    # --------------------------------------------------------------------------------------------- margin
    def what_if_order(self, security: Any, amount: float, limit_price: float | None = None) -> margin.WhatIf:
        """IB's what-if answer for an order of ``amount`` (signed) of ``security`` at ``limit_price`` (default: the
        current price), before sending it: ``.accepted``, ``.warning`` (IB's refusal text) and ``.ib_fields()``
        (initMarginBefore/After/Change, maintMargin..., equityWithLoan...), from the margin rule every mode applies."""
        asset = self._api.resolve_asset(security)
        if asset.sec_type is SecType.OPTION:
            price = float(limit_price) if limit_price is not None else self._option_value(asset).price
        else:
            price = float(limit_price) if limit_price is not None else float(self._engine.data.current(asset,
                                                                                                       "price"))
        if not (price > 0 and math.isfinite(price)):
            raise AlgorithmApiError(f"what_if_order: {asset.symbol} has no price yet; pass limit_price=")
        ledger = self._engine.ledger
        return margin.what_if(float(ledger.portfolio_value), ledger.margin_holdings(), asset.sec_type.value,
                              ledger.amount(asset.sid), float(amount), price, asset.multiplier or 1.0,
                              currency=asset.currency)
