"""Packaging for ibalgo: Quantopian-style algorithms on Interactive Brokers, with a backtester and a simulated
IB Gateway."""

from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
# the version lives in runtime/version.py (read as text: installing must not import the package)
version = (here / "runtime" / "version.py").read_text().split('__version__ = "')[1].split('"')[0]

setup(
    name="ibalgo",
    version=version,
    description="Run Quantopian-style algorithm files in backtests, against a simulated IB Gateway, "
    "and live on Interactive Brokers through the official ibapi client.",
    long_description=(here / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # runtime.data.sample holds the bundled bars (data only, no Python), listed so setuptools ships it as such
    packages=[*find_packages(include=["runtime", "runtime.*"]), "runtime.data.sample"],
    package_data={"runtime.data.sample": ["*.csv.gz", "*.md"]},
    include_package_data=True,
    install_requires=[
        "ibapi>=9.81.1",
        "pandas>=2.0,<4",
        "numpy>=1.24,<3",
        "pytz>=2023.3",
        "apscheduler>=3.11,<4",
        "exchange_calendars>=4.5,<5",
        "tqdm>=4.66,<5",
        # risk metrics with zipline's conventions, and report.html / the live page (every run writes a report)
        "empyrical-reloaded>=0.5.10,<1",
        "plotly>=5.18,<8",
    ],
    extras_require={
        "test": [
            "pytest>=7.4,<10",
            # a hang fails its test after the timeout in pyproject.toml instead of eating the CI run
            "pytest-timeout>=2.2,<3",
            "hypothesis>=6.90,<7",
            "ruff>=0.6",
            "ib_async>=1.0,<3",
            "pyarrow>=14",
            "cvxpy>=1.5,<2",
            "scipy>=1.10,<2",
            "statsmodels>=0.14,<0.16",
            "scikit-learn>=1.3,<2",
            "ta-lib>=0.6.8,<1",
            "selenium>=4.10,<5",
            "aiosmtpd>=1.4,<2",
            "pykalman>=0.9.7,<0.12",
            "dask[distributed]>=2024.1,<2027",
        ],
        # ibalgo sweep: parameter sweeps on Dask distributed (a LocalCluster, or a running cluster's scheduler)
        "sweep": ["dask[distributed]>=2024.1,<2027"],
        "tearsheets": ["quantstats>=0.0.62", "pyfolio-reloaded>=0.9.5"],
        "parquet": ["pyarrow>=14"],
        # the libraries Quantopian gave every algorithm (ta-lib's wheels bundle the TA-Lib C library); cvxpy (with
        # its Clarabel solver) also solves quantopian.optimize problems
        "optimize": ["cvxpy>=1.5,<2"],
        "quant": [
            "scipy>=1.10,<2",
            "statsmodels>=0.14,<0.16",
            "scikit-learn>=1.3,<2",
            "ta-lib>=0.6.8,<1",
            "cvxpy>=1.5,<2",
            "pykalman>=0.9.7,<0.12",
        ],
    },
    entry_points={"console_scripts": ["ibalgo=runtime.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Office/Business :: Financial :: Investment",
    ],
)
