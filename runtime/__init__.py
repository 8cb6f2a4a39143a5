"""ibalgo: run Quantopian-style algorithm files in backtests and on Interactive Brokers."""

__version__ = "0.1.0"
