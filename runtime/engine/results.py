"""The per-session results table (zipline's ``perf``), its files, and the console summary."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from runtime.core import metrics
from runtime.core.orders import OrderStatus

if TYPE_CHECKING:
    from runtime.core.assets import Asset
    from runtime.core.calendar import TradingCalendar
    from runtime.core.ledger import Transaction
    from runtime.data.benchmark import BenchmarkReturns
    from runtime.engine.engine import Engine, OrderRecord


SCALAR_COLUMNS = [
    "starting_cash", "ending_cash", "starting_value", "ending_value", "starting_exposure", "ending_exposure",
    "portfolio_value", "pnl", "returns", "capital_used", "long_value", "short_value", "long_exposure",
    "short_exposure", "longs_count", "shorts_count", "gross_leverage", "net_leverage", "leverage",
]


#: the columns of a results table without sessions
EMPTY_COLUMNS = [
    "period_open", "period_close", *SCALAR_COLUMNS, "positions", "orders", "transactions", "algorithm_period_return",
    "algo_volatility", "sharpe", "sortino", "max_drawdown", "max_leverage", "trading_days", "treasury_period_return",
    "excess_return", "benchmark_returns", "benchmark_period_return", "benchmark_volatility", "alpha", "beta",
]


def order_state(o: OrderRecord) -> tuple:
    """The fields of an order that its perf entry shows, as they are now (orders change after the session)."""
    return (o.id, o.dt_ns, o.reason, o.created_ns, o.amount, o.filled, o.commission, o.stop, o.limit, o.stop_reached,
            o.limit_reached, o.asset, int(o.status))


def _order_entry(state: tuple) -> dict[str, Any]:
    (order_id, dt_ns, reason, created_ns, amount, filled, commission, stop, limit, stop_reached, limit_reached, asset,
     status) = state
    return {
        "id": order_id, "dt": pd.Timestamp(dt_ns, tz="UTC"), "reason": reason,
        "created": pd.Timestamp(created_ns, tz="UTC"), "amount": amount, "filled": filled,
        "commission": commission, "stop": stop, "limit": limit, "stop_reached": stop_reached,
        "limit_reached": limit_reached, "sid": asset, "status": status,
    }


class ResultsRecorder:
    """Collects one row per session at the session's end, then adds the expanding risk metrics.

    During the run each session keeps compact snapshots (numbers and tuples: few objects for the garbage collector
    to walk); the results table's dicts are made from them once, in :meth:`frame`.
    """

    def __init__(self, starting_cash: float) -> None:
        self.sessions: list[int] = []
        self.scalars: list[tuple[float, ...]] = []
        #: per session: sid, amount, cost basis, last price of each position, in one flat list
        self.positions: list[list[int | float]] = []
        #: per session: the state of each order that changed in it (see :func:`order_state`)
        self.orders: list[list[tuple]] = []
        self.transactions: list[list[Transaction]] = []
        self.recorded: list[dict[str, Any]] = []
        self.starting_cash = starting_cash
        self._prev_value = starting_cash
        self._prev_cash = starting_cash
        self._prev_exposure = 0.0
        self._assets: dict[int, Asset] = {}
        self.fill_count = 0
        self.order_count = 0
        self.benchmark_prices: list[float] = []
        #: the run's benchmark returns (from adjusted prices or a file); None: from the prices recorded each session
        self.benchmark: BenchmarkReturns | None = None
        self.benchmark_name: str | None = None
        self.recorded_names: list[str] = []

        self.benchmark_enabled = True

    def use_benchmark(self, benchmark: BenchmarkReturns | None, enabled: bool = True) -> None:
        """Compare with ``benchmark``'s returns (None: with the prices of the engine's benchmark asset, if any,
        recorded each session); ``enabled`` False: no benchmark at all (``--no-benchmark``)."""
        self.benchmark = benchmark
        self.benchmark_enabled = enabled
        self.benchmark_name = benchmark.name if benchmark is not None and enabled else None

    def on_session_end(self, engine: Engine, session: int) -> None:
        """Collect the session's figures (raw numbers and small tuples; the table is built once, at the end)."""
        ledger = engine.ledger
        totals = ledger.totals()
        value = ledger.cash + totals.net
        pnl = value - self._prev_value
        leverage = totals.gross / value if value else 0.0
        self.sessions.append(session)
        self.scalars.append((
            self._prev_cash, ledger.cash, self._prev_value - self._prev_cash, totals.net, self._prev_exposure,
            totals.net, value, pnl, pnl / self._prev_value if self._prev_value else 0.0, ledger.period_capital_used,
            totals.long, totals.short, totals.long, totals.short, totals.longs, totals.shorts, leverage,
            totals.net / value if value else 0.0, leverage,
        ))
        self.positions.append(ledger.position_values())
        if not self._assets.keys() >= ledger.held_sid_set():
            self._assets.update(ledger.held_assets())
        today = engine.today
        self.orders.append([order_state(o) for o in today.orders.values()] if today.orders else [])
        self.transactions.append(list(today.transactions))
        if engine.recorded:
            self.recorded.append(dict(engine.recorded))
            for name in engine.recorded:
                if name not in self.recorded_names:
                    self.recorded_names.append(name)
        else:
            self.recorded.append({})
        self.fill_count += len(today.transactions)
        self.order_count += today.orders_placed
        if engine.benchmark is not None and self.benchmark is None and self.benchmark_enabled:
            self.benchmark_prices.append(engine.current_price(engine.benchmark))
            self.benchmark_name = engine.benchmark.symbol
        self._prev_value = value
        self._prev_cash = ledger.cash
        self._prev_exposure = totals.net

    def drop_incomplete(self) -> None:
        """Forget a session whose collection was cut short (an interruption inside :meth:`on_session_end`), so the
        table holds only completed sessions."""
        lists = (self.sessions, self.scalars, self.positions, self.orders, self.transactions, self.recorded)
        n = min(len(x) for x in lists)
        for x in lists:
            del x[n:]
        del self.benchmark_prices[n:]

    def last_row(self) -> dict[str, Any]:
        """The newest session's figures as plain numbers (for a journal: see :meth:`prepend_sessions`)."""
        row: dict[str, Any] = {"scalars": list(self.scalars[-1]), "positions": list(self.positions[-1]),
                               "recorded": dict(self.recorded[-1])}
        if self.benchmark_prices and len(self.benchmark_prices) == len(self.sessions):
            row["benchmark_price"] = float(self.benchmark_prices[-1])
            row["benchmark"] = self.benchmark_name
        return row

    def prepend_sessions(self, rows: list[tuple[int, dict[str, Any]]], assets: dict[int, Asset]) -> None:
        """Sessions recorded by earlier starts of the same run (``(session, last_row())``, oldest first), before
        this start's: the table and its cumulative figures then cover the whole run, from its first capital."""
        if not rows:
            return
        # the benchmark's prices recorded each session (no benchmark returns given): the earlier starts' prices go
        # first, so the benchmark covers the whole run
        prices = [row.get("benchmark_price") for _, row in rows]
        if len(self.benchmark_prices) == len(self.sessions) and all(p is not None for p in prices):
            self.benchmark_prices[:0] = [float(p) for p in prices]  # type: ignore[arg-type]
            self.benchmark_name = self.benchmark_name or rows[-1][1].get("benchmark")
        self.sessions[:0] = [session for session, _ in rows]
        self.scalars[:0] = [tuple(float(x) for x in row["scalars"]) for _, row in rows]
        self.positions[:0] = [list(row["positions"]) for _, row in rows]
        self.recorded[:0] = [dict(row.get("recorded") or {}) for _, row in rows]
        self.orders[:0] = [[] for _ in rows]
        self.transactions[:0] = [[] for _ in rows]
        for sid, asset in assets.items():
            self._assets.setdefault(sid, asset)
        first = self.scalars[0]
        self.starting_cash = first[0] + first[2]  # starting cash + starting value of the run's first session

    def set_activity(self, orders: list[list[tuple]], transactions: list[list[Transaction]]) -> None:
        """Replace each session's orders (:func:`order_state` tuples) and transactions (e.g. from a journal that
        knows every start of the run), one list per recorded session."""
        if len(orders) != len(self.sessions) or len(transactions) != len(self.sessions):
            raise ValueError("one list of orders and of transactions per recorded session")
        self.orders = orders
        self.transactions = transactions
        self.fill_count = sum(len(day) for day in transactions)
        self.order_count = len({state[0] for day in orders for state in day})

    def frame(self, calendar: TradingCalendar, risk: bool = True) -> pd.DataFrame:
        """The results table: one row per session, indexed by the session's close (UTC), zipline's columns.

        ``risk`` False leaves out the expanding risk columns (sharpe, sortino, alpha, ...): a cheap table for the
        live page while a run lasts.

        With no completed session (a run stopped before its first close) the table is empty but has the columns,
        so ``perf.empty`` is True and ``perf["portfolio_value"]`` is an empty column rather than a KeyError.
        """
        if not self.sessions:
            return pd.DataFrame(columns=EMPTY_COLUMNS, index=pd.DatetimeIndex([], tz="UTC"))
        idx = np.asarray(self.sessions, dtype=np.int64)
        closes = pd.DatetimeIndex(calendar.closes[idx].view("datetime64[ns]")).tz_localize("UTC")
        perf = pd.DataFrame(self.scalars, columns=SCALAR_COLUMNS, index=closes)
        perf.insert(0, "period_open", pd.DatetimeIndex(calendar.opens[idx].view("datetime64[ns]")).tz_localize("UTC"))
        perf.insert(1, "period_close", closes)
        assets = self._assets
        perf["positions"] = [
            [{"sid": assets[sid], "amount": amount, "cost_basis": basis, "last_sale_price": price}
             for sid, amount, basis, price in zip(day[::4], day[1::4], day[2::4], day[3::4])]
            for day in self.positions
        ]
        perf["orders"] = [[_order_entry(state) for state in day] for day in self.orders]
        perf["transactions"] = [[t.to_dict() for t in day] for day in self.transactions]
        if any(self.recorded):
            recorded = pd.DataFrame(self.recorded, index=closes)
            for name in recorded.columns:
                if name not in perf.columns:
                    perf[name] = recorded[name]
        returns = perf["returns"].to_numpy(dtype=float)
        values = perf["portfolio_value"].to_numpy(dtype=float)
        perf["algorithm_period_return"] = values / self.starting_cash - 1.0
        perf["max_leverage"] = np.maximum.accumulate(perf["leverage"].to_numpy(dtype=float))
        perf["trading_days"] = np.arange(1, len(perf) + 1)
        perf["treasury_period_return"] = 0.0
        perf["excess_return"] = perf["algorithm_period_return"]
        bench = self._benchmark_returns(calendar, idx)
        if bench is not None:
            perf["benchmark_returns"] = bench
            perf["benchmark_period_return"] = np.cumprod(1.0 + bench) - 1.0
        else:
            for name in ("benchmark_returns", "benchmark_period_return"):
                perf[name] = np.nan
        if risk:
            perf["algo_volatility"] = metrics.expanding_volatility(returns)
            perf["sharpe"] = metrics.expanding_sharpe(returns)
            perf["sortino"] = metrics.expanding_sortino(returns)
            perf["max_drawdown"] = metrics.expanding_max_drawdown(returns)
            if bench is not None:
                perf["benchmark_volatility"] = metrics.expanding_benchmark_volatility(bench)
                perf["alpha"], perf["beta"] = metrics.expanding_alpha_beta(returns, bench)
            else:
                for name in ("benchmark_volatility", "alpha", "beta"):
                    perf[name] = np.nan
        perf.index.name = None
        return perf

    def _benchmark_returns(self, calendar: TradingCalendar, idx: np.ndarray) -> np.ndarray | None:
        if not self.benchmark_enabled:
            return None
        if self.benchmark is not None:
            labels = pd.DatetimeIndex(calendar.sessions[idx])
            return self.benchmark.on_sessions(labels)
        if not self.benchmark_prices or len(self.benchmark_prices) != len(idx):
            return None
        # no adjusted prices known (a run on TWS / IB Gateway): session-to-session changes of the prices seen
        prices = np.asarray(self.benchmark_prices, dtype=float)
        bench = np.zeros(len(prices))
        with np.errstate(divide="ignore", invalid="ignore"):
            bench[1:] = prices[1:] / prices[:-1] - 1.0
        return np.nan_to_num(bench, nan=0.0, posinf=0.0, neginf=0.0)

    def summary(self, perf: pd.DataFrame) -> metrics.Summary:
        """The end-of-run summary of ``perf`` (a table from :meth:`frame`), with the benchmark's figures."""
        return summary_of(perf, self.starting_cash, self.fill_count, self.order_count, self.benchmark_name)


def summary_of(perf: pd.DataFrame, starting_cash: float, fills: int, orders: int,
               benchmark: str | None = None) -> metrics.Summary:
    """The end-of-run summary of a results table (see :func:`runtime.core.metrics.summarize`)."""
    if perf.empty:
        return metrics.summarize("-", "-", starting_cash, np.empty(0), np.empty(0), fills, orders)
    traded = np.zeros(len(perf))
    commissions = 0.0
    if "transactions" in perf.columns:
        for i, day in enumerate(perf["transactions"]):
            for t in day:
                multiplier = getattr(t["sid"], "multiplier", None) or 1.0
                traded[i] += abs(t["amount"] * t["price"] * multiplier)
                commissions += t["commission"] or 0.0
    bench = None
    if "benchmark_returns" in perf.columns and perf["benchmark_returns"].notna().any():
        bench = perf["benchmark_returns"].fillna(0.0).to_numpy(dtype=float)
    return metrics.summarize(
        str(perf.index[0].date()),
        str(perf.index[-1].date()),
        starting_cash,
        perf["portfolio_value"].to_numpy(dtype=float),
        perf["returns"].to_numpy(dtype=float),
        fills,
        orders,
        bench=bench,
        benchmark=benchmark if bench is not None else None,
        traded_value=traded,
        commissions=commissions,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, (np.integer, int, bool, str)) or value is None:
        return value.item() if isinstance(value, np.generic) else value
    if hasattr(value, "symbol"):
        return value.symbol
    return str(value)


def _plain(value: Any) -> Any:
    """``value`` with the runtime's own objects replaced by plain Python ones (an asset by its symbol, an order
    status by zipline's number), so ``results.pkl`` unpickles where only pandas is installed."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, OrderStatus):
        return int(value)
    if isinstance(value, (pd.Timestamp, float, int, str, bool, np.generic)) or value is None:
        return value
    if hasattr(value, "symbol") and hasattr(value, "sid"):
        return value.symbol
    return str(value)


def plain_perf(perf: pd.DataFrame) -> pd.DataFrame:
    """A copy of the results table holding only pandas, numpy and plain Python values (what ``results.pkl`` is).

    Assets become their symbols (``positions[i]['sid'] == 'AAPL'``), order statuses stay zipline's numbers (1 is
    filled; ``orders.csv`` has the words);
    recorded values that are not numbers or strings become their ``str``.
    """
    out = perf.copy()
    for name in ("positions", "orders", "transactions"):
        if name in out.columns:
            out[name] = [_plain(day) for day in out[name]]
    for name in out.columns:
        if out[name].dtype == object and name not in ("positions", "orders", "transactions"):
            out[name] = [_plain(v) for v in out[name]]
    return out


def pyfolio_frames(perf: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
    """``returns``, ``positions`` and ``transactions`` in pyfolio's shapes (what
    ``pyfolio.utils.extract_rets_pos_txn_from_zipline`` makes of a zipline perf table).

    returns: daily returns indexed by session (UTC midnight); positions: the value held in each symbol per session
    plus a ``cash`` column; transactions: one row per fill indexed by its time, with amount, price, symbol, sid,
    commission and order_id.
    """
    if perf.empty:
        empty_index = pd.DatetimeIndex([], tz="UTC")
        return (pd.Series([], index=empty_index, name="returns", dtype=float), pd.DataFrame(index=empty_index),
                pd.DataFrame(columns=["amount", "price", "symbol", "sid", "commission", "order_id"]))
    days = perf.index.normalize()
    returns = pd.Series(perf["returns"].to_numpy(dtype=float), index=days, name="returns")
    rows = []
    for day in perf["positions"]:
        row: dict[str, float] = {}
        for pos in day:
            sym = getattr(pos["sid"], "symbol", pos["sid"])
            multiplier = getattr(pos["sid"], "multiplier", None) or 1.0
            row[str(sym)] = row.get(str(sym), 0.0) + pos["amount"] * pos["last_sale_price"] * multiplier
        rows.append(row)
    positions = pd.DataFrame(rows, index=days).fillna(0.0)
    positions["cash"] = perf["ending_cash"].to_numpy(dtype=float)
    positions.index.name = "date"
    txns = [
        {"dt": t["dt"], "amount": t["amount"], "price": t["price"], "symbol": getattr(t["sid"], "symbol", t["sid"]),
         "sid": getattr(t["sid"], "sid", t["sid"]), "commission": t["commission"], "order_id": t["order_id"]}
        for day in perf["transactions"] for t in day
    ]
    transactions = pd.DataFrame(txns, columns=["dt", "amount", "price", "symbol", "sid", "commission", "order_id"])
    transactions = transactions.set_index("dt")
    if not len(transactions):
        transactions.index = pd.DatetimeIndex([], tz="UTC", name="dt")
    return returns, positions, transactions


def write_results(perf: pd.DataFrame, output: Path, summary: metrics.Summary, meta: dict[str, Any]) -> list[Path]:
    """Write the run's files into ``output``; returns the paths written.

    ``results.csv`` (scalar columns), ``results.pkl`` (the full table, plain pandas/Python values only),
    ``trades.csv`` (every fill), ``orders.csv`` (each order's last state, status as a word), ``summary.json``, and
    pyfolio's inputs ``returns.csv``, ``positions.csv`` and ``transactions.csv``.
    """
    output.mkdir(parents=True, exist_ok=True)
    written = []
    nested = {"positions", "orders", "transactions"}
    scalar = perf[[c for c in perf.columns if c not in nested]] if not perf.empty else perf
    path = output / "results.csv"
    scalar.to_csv(path, index_label="date")
    written.append(path)
    path = output / "results.pkl"
    plain_perf(perf).to_pickle(path)
    written.append(path)
    trades = [t for day in perf.get("transactions", []) for t in day]
    trade_frame = pd.DataFrame(
        [{**t, "sid": getattr(t["sid"], "sid", t["sid"])} for t in trades],
        columns=["dt", "symbol", "sid", "amount", "price", "commission", "order_id"],
    )
    path = output / "trades.csv"
    trade_frame.to_csv(path, index=False)
    written.append(path)
    orders: dict[str, dict[str, Any]] = {}
    for day in perf.get("orders", []):
        for o in day:
            orders[o["id"]] = {**o, "sid": getattr(o["sid"], "symbol", o["sid"]),
                               "status": OrderStatus(int(o["status"])).name.lower()}
    path = output / "orders.csv"
    pd.DataFrame(list(orders.values()), columns=["id", "dt", "reason", "created", "amount", "filled", "commission",
                                                  "stop", "limit", "stop_reached", "limit_reached", "sid", "status"]
                 ).to_csv(path, index=False)
    written.append(path)
    returns, positions, transactions = pyfolio_frames(perf)
    for name, frame in (("returns", returns), ("positions", positions), ("transactions", transactions)):
        path = output / f"{name}.csv"
        frame.to_csv(path, index_label="date" if name != "transactions" else "dt")
        written.append(path)
    path = output / "summary.json"
    path.write_text(json.dumps(_jsonable({**meta, **summary.__dict__}), indent=2) + "\n")
    written.append(path)
    return written
