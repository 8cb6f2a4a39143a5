"""User settings for ibalgo, in the spirit of IBridgePy's settings.py.

Every value here can be overridden on the command line (``ibalgo backtest --capital 50000 ...``); the command line
wins. Run ``ibalgo backtest --help`` to see the option for each setting. Paths are relative to the folder you run
ibalgo from.
"""

# --- what to run ----------------------------------------------------------------------------------------------
#: The algorithm file (a Quantopian/zipline-style file with initialize(context) and handle_data(context, data)).
ALGORITHM = "user_algos/dual_moving_average.py"

#: Which conventions the algorithm file expects: "ibridgepy" (get_datetime() in SHOW_TIME_ZONE, 'NoOrderPlaced',
#: DAY orders in minute runs), "zipline" (get_datetime() in UTC, None, the cancel policy's tif), or None: decided from
#: the file (IBridgePy's when it imports nothing from zipline/quantopian and calls one of IBridgePy's own helpers,
#: such as show_real_time_price or order_status_monitor). A settings file with IBridgePy's names selects "ibridgepy".
ALGORITHM_STYLE = None

#: The algorithm's parameters, read in the algorithm with get_parameter("fast", 20) or context.params["fast"].
#: ``ibalgo backtest --param fast=10`` overrides one; ``ibalgo sweep --param fast=10,20,30`` runs each value
#: (the names not swept keep the values here). {}: none (every get_parameter returns its default).
PARAMS = {}

#: IBridgePy's run mode. None: Quantopian's way (handle_data once per bar of FREQUENCY, in market hours).
#: "RUN_LIKE_QUANTOPIAN": minute bars in market hours. "REGULAR" (and "HFT"): handle_data every REP_BAR_FREQ seconds
#: (default 1) around the clock, on minute bars. "SUDO_RUN_LIKE_QUANTOPIAN": every 60 seconds around the clock.
#: The run modes use minute bars: set FREQUENCY = "minute" with them (or leave FREQUENCY out).
RUN_MODE = None

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

#: "synthetic" adds a seeded synthetic universe of 300 fake tickers (SYN000..SYN299, 2000-03..2013-03, with listing
#: dates, splits, dividends, sectors and market caps) to the data, for Pipeline algorithms to rank (backtest and
#: run). None: only the data above.
UNIVERSE = None

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

# --- pipeline ---------------------------------------------------------------------------------------------------
#: A point-in-time table (CSV or Parquet) that Fundamentals, morningstar.*, Sector() and your own DataSets read:
#: columns "symbol", "date_known" (the first session on which a row's values may be used) and one column per field
#: (e.g. market_cap, morningstar_sector_code). None: files that use fundamentals fail at load and say so.
FUNDAMENTALS_FILE = None

#: ibalgo run: the daily bar folder (the --data format) whose symbols are the pipelines' universe. None: the --data
#: folder, else the bundled stocks (the data the embedded gateway replays).
PIPELINE_DATA = None

#: What the results compare with (zipline's choices): a symbol of the data (its total return from adjusted prices,
#: dividends included), or BENCHMARK_FILE, a CSV of daily returns with 'date' and 'return' columns. An algorithm's
#: own set_benchmark(...) wins over both; NO_BENCHMARK = True (or --no-benchmark) turns every benchmark off.
#: None and None: no benchmark unless the algorithm sets one (then alpha and beta are not reported).
BENCHMARK = None
BENCHMARK_FILE = None
NO_BENCHMARK = False

#: Backtests: "regt" rejects orders the account cannot margin, by the rule the simulated gateway applies (stocks 50%
#: initial margin, futures 6%, FX 3%), as IB rejects them; "none" fills any order, as zipline does.
MARGIN_CHECK = "regt"

# --- market -----------------------------------------------------------------------------------------------------
#: Exchange calendar (exchange_calendars code) for sessions, minutes, holidays and early closes.
EXCHANGE_CALENDAR = "XNYS"

#: Exchange-local time at which before_trading_start runs each session (zipline: 08:45; IBridgePy: 09:25).
BEFORE_TRADING_START = "08:45"

#: Time zone used to show times in logs, and the time zone get_datetime() answers in for IBridgePy-style files
#: (zipline-style files keep UTC).
SHOW_TIME_ZONE = "US/Eastern"

# --- broker (live and paper trading) ----------------------------------------------------------------------------
#: Your IB account code (paper accounts start with DU). Not needed for backtests. Several accounts (an advisor's):
#: a list, ["DU111", "DU222"]; the first is the default for helpers called without accountCode= (and the one
#: context.portfolio follows); paper and live runs trade the others through accountCode=.
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

# --- e-mail (send_email in an algorithm) ------------------------------------------------------------------------
#: The SMTP server send_email uses. None: send_email logs the message instead of sending it. A failed send is logged
#: as an error and never stops the run.
SMTP_HOST = None
SMTP_PORT = 587
SMTP_USER = None
SMTP_PASSWORD = None
SMTP_STARTTLS = True
EMAIL_FROM = None
#: Who gets the mail (comma-separated addresses); send_email(title, body, toEmail=...) overrides it.
EMAIL_TO = None

# --- logging ----------------------------------------------------------------------------------------------------
#: DEBUG, INFO, WARNING or ERROR (IBridgePy's NOTSET is DEBUG).
LOG_LEVEL = "INFO"
