"""User settings for ibalgo, in the spirit of IBridgePy's settings.py.

Every value here can be overridden on the command line (``ibalgo backtest --capital 50000 ...``); the command line
wins. Run ``ibalgo backtest --help`` to see the option for each setting. Paths are relative to the folder you run
ibalgo from.
"""

# --- what to run ----------------------------------------------------------------------------------------------
#: The algorithm file (a Quantopian/zipline-style file with initialize(context) and handle_data(context, data)).
ALGORITHM = "user_algos/dual_moving_average.py"

#: What the command does when no sub-command is given: "backtest".
RUN_MODE = "backtest"

# --- backtest ---------------------------------------------------------------------------------------------------
#: Starting cash, in the account's currency.
CAPITAL = 100_000.0

#: First and last session of a backtest (YYYY-MM-DD, exchange dates). None: the whole range of the data.
START = "2005-01-03"
END = "2012-12-31"

#: Bar frequency: "daily" (handle_data once per session, at the close) or "minute" (every minute of the session).
FREQUENCY = "daily"

#: A folder of CSV/Parquet files, one per symbol (see the README for the columns). None: the bundled real daily
#: bars of AAPL, IBM, MSFT, GOOG and FB (2000-03..2013-03); minute bars are then generated from them (seeded).
DATA_DIR = None

#: Seed of the synthetic minute-bar generator (same seed, same bars).
SEED = 7

#: Where results are written (results.csv, results.pkl, trades.csv, orders.csv, summary.json).
OUTPUT_DIR = "output"

#: How often handle_data runs. None: once per bar, during market hours (Quantopian's way). A number of seconds:
#: IBridgePy's REGULAR mode, handle_data every REP_BAR_FREQ seconds around the clock (0.5 = twice a second;
#: backtests need FREQUENCY = "minute" and show the last completed minute bar).
REP_BAR_FREQ = None

#: Stop the run at the first exception in handle_data / scheduled functions instead of logging it and continuing.
STRICT = False

#: What the results compare with (zipline's choices): a symbol of the data (its total return from adjusted prices,
#: dividends included), or BENCHMARK_FILE, a CSV of daily returns with 'date' and 'return' columns. An algorithm's
#: own set_benchmark(...) wins over both; NO_BENCHMARK = True (or --no-benchmark) turns every benchmark off.
#: None and None: no benchmark unless the algorithm sets one (then alpha and beta are not reported).
BENCHMARK = None
BENCHMARK_FILE = None
NO_BENCHMARK = False

# --- market -----------------------------------------------------------------------------------------------------
#: Exchange calendar (exchange_calendars code) for sessions, minutes, holidays and early closes.
EXCHANGE_CALENDAR = "XNYS"

#: Exchange-local time at which before_trading_start runs each session (zipline: 08:45; IBridgePy: 09:25).
BEFORE_TRADING_START = "08:45"

#: Time zone used to show times in logs.
SHOW_TIME_ZONE = "US/Eastern"

# --- broker (live and paper trading) ----------------------------------------------------------------------------
#: Your IB account code (paper accounts start with DU). Not needed for backtests.
ACCOUNT_CODE = "DU0000001"

#: Where TWS / IB Gateway listens: TWS paper 7497, TWS live 7496, Gateway paper 4002, Gateway live 4001.
BROKER_HOST = "127.0.0.1"
BROKER_PORT = 4002
CLIENT_ID = 1

# --- ibalgo run (paper and live trading) -----------------------------------------------------------------------
#: "sim": the built-in simulated IB Gateway, started inside ibalgo (no account, no TWS needed);
#: "ib": TWS or IB Gateway at BROKER_HOST:BROKER_PORT with CLIENT_ID and ACCOUNT_CODE.
BROKER = "sim"

#: The simulated gateway's replay window "START:END" (dates). None: START and END above.
#: A replay goes through the whole live path (gateway, ibapi, engine), so it is slower than a backtest: a quarter
#: of daily bars takes a few seconds.
REPLAY = "2012-10-01:2012-12-31"

#: Replay speed: a number (times real time, 60 = a minute per second) or "max" (as fast as possible).
SPEED = "max"

#: Trading a live account (a live port 7496/4001 or an account not starting with DU/DF) needs LIVE = True
#: (or --live): without it ibalgo refuses, so real money is never used by mistake.
LIVE = False

#: On Ctrl-C / SIGTERM: cancel the run's open orders (True) or leave them working at IB (False; a restart with
#: the same RUN_ID adopts them by their orderRef).
CANCEL_ON_STOP = False

#: The run's name in the journal and in every order's orderRef. None: a new id each start. Keep it to restart a
#: run (same journal, same --output folder): its open orders are adopted, never sent twice.
RUN_ID = None

#: Serve the live page of a run on this port of 127.0.0.1 (0: a free port, printed at the start; or --dashboard).
#: None: no live page.
DASHBOARD_PORT = None

#: How many daily bars back the live data holds (data.history windows longer than this are NaN-padded).
HISTORY_SESSIONS = 260

# --- logging ----------------------------------------------------------------------------------------------------
#: DEBUG, INFO, WARNING or ERROR.
LOG_LEVEL = "INFO"
