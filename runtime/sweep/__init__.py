"""Parameter sweeps: many backtests of one algorithm, one per combination of its parameters, on Dask distributed.

``ibalgo sweep FILE --param fast=10,20,30 --param slow=50:200:25`` or, from Python::

    from runtime.sweep import run_sweep

    if __name__ == "__main__":   # LocalCluster workers are new processes
        result = run_sweep("user_algos/parameter_sweep.py", {"fast": [10, 20, 30], "slow": "50:200:25"},
                           start="2008-01-02", end="2012-12-31", output="output/sweep")
        print(result.rows.sort_values("sharpe").tail())

The algorithm reads its parameters with ``get_parameter('fast', 20)`` or ``context.params['fast']``
(:mod:`runtime.algorithm.params`). :mod:`runtime.sweep.grid` reads the ``--param`` forms,
:mod:`runtime.sweep.worker` is one run on a worker, :mod:`runtime.sweep.runner` drives the cluster and writes the
files; the page is :mod:`runtime.report.sweep`.
"""

from runtime.sweep.grid import GridError, ParamGrid, parse_assignment
from runtime.sweep.runner import METRIC_CHOICES, SweepError, SweepResult, WalkForward, connect, run_sweep
from runtime.sweep.worker import RunRow

__all__ = ["METRIC_CHOICES", "GridError", "ParamGrid", "RunRow", "SweepError", "SweepResult", "WalkForward",
           "connect", "parse_assignment", "run_sweep"]
