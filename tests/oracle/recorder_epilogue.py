# Appended to an oracle algorithm file before it runs, in zipline-reloaded and in ibalgo alike (the same text).
# It wraps the file's attach_pipeline, before_trading_start and analyze to record, into the JSON file named by
# the ORACLE_OUT environment variable: every order [session created, symbol, amount], every fill [session,
# symbol, amount, price] and the pipeline outputs of a few sessions (the first three, then every 40th).
import json as _oracle_json
import math as _oracle_math
import os as _oracle_os

import zipline.api as _oracle_api

_oracle_attach = globals().get("attach_pipeline")  # the algorithm imports it (a control file does not)
_oracle_names = []
_oracle_state = {"sessions": 0, "pipeline": {}}
_oracle_user_bts = globals().get("before_trading_start")
_oracle_user_analyze = globals().get("analyze")


def attach_pipeline(pipeline, name, *args, **kwargs):
    _oracle_names.append(name)
    return _oracle_attach(pipeline, name, *args, **kwargs)


def _oracle_value(v):
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return bool(v)
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float):
        return None if _oracle_math.isnan(v) else v
    if v is None:
        return None
    return v if isinstance(v, (int, str)) else str(v)


def _oracle_day(ts):
    import pandas as pd

    t = pd.Timestamp(ts)
    if t.tzinfo is not None:
        t = t.tz_convert("America/New_York")
    return str(t.date())


def before_trading_start(context, data):
    if _oracle_user_bts is not None:
        _oracle_user_bts(context, data)
    n = _oracle_state["sessions"]
    _oracle_state["sessions"] = n + 1
    if n < 3 or n % 40 == 0:
        day = _oracle_day(_oracle_api.get_datetime())
        frames = {}
        for name in _oracle_names:
            frame = _oracle_api.pipeline_output(name)
            frames[name] = {
                str(asset.symbol): {str(col): _oracle_value(frame.at[asset, col]) for col in frame.columns}
                for asset in frame.index
            }
        _oracle_state["pipeline"][day] = frames


def analyze(context, perf):
    orders, seen, fills = [], set(), []
    for day_orders in perf["orders"]:
        for o in day_orders:
            if o["id"] in seen:
                continue
            seen.add(o["id"])
            orders.append([_oracle_day(o["created"]), str(o["sid"].symbol), int(o["amount"])])
    for day_fills in perf["transactions"]:
        for t in day_fills:
            fills.append([_oracle_day(t["dt"]), str(t["sid"].symbol), int(t["amount"]), float(t["price"])])
    out = {"orders": orders, "fills": fills, "pipeline": _oracle_state["pipeline"],
           "final_portfolio_value": float(perf["portfolio_value"].iloc[-1])}
    with open(_oracle_os.environ["ORACLE_OUT"], "w") as fh:
        _oracle_json.dump(out, fh, sort_keys=True)
    if _oracle_user_analyze is not None:
        _oracle_user_analyze(context, perf)
