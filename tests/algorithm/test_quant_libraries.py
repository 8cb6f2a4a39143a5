"""The libraries Quantopian gave every algorithm (the ``[quant]`` extra): algorithm files that use them run as
backtests, and an algorithm importing one that is not installed stops with the package and the extra to install."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from support.algo import REPO, run_algo

from runtime.algorithm.libraries import LIBRARIES, MissingLibraryError
from runtime.errors import AlgorithmLoadError

ALGOS = Path(__file__).resolve().parents[1] / "quant_algos"


def _run(tmp_path: Path, name: str, start: str = "2011-01-03", end: str = "2011-06-30"):
    result = run_algo(tmp_path, ALGOS / name, start=start, end=end, strict=True)
    assert result.engine.error_count == 0
    assert result.summary.orders > 0 and math.isfinite(result.summary.ending_value)
    return result


def test_talib_rsi_and_sma_on_history(tmp_path: Path) -> None:
    result = _run(tmp_path, "talib_rsi.py")
    rsi = np.array(result.engine.context.rsi_seen)
    assert len(rsi) == 3 * len(result.perf) and np.isfinite(rsi).all() and ((rsi > 0) & (rsi < 100)).all()
    assert result.perf["rsi_aapl"].notna().all()


def test_statsmodels_ols_hedge_ratio(tmp_path: Path) -> None:
    result = _run(tmp_path, "statsmodels_pairs.py")
    hedges = np.array(result.engine.context.hedges)
    assert len(hedges) == len(result.perf) and np.isfinite(hedges).all() and hedges.std() > 0


def test_sklearn_classifier_on_returns(tmp_path: Path) -> None:
    result = _run(tmp_path, "sklearn_classifier.py")
    predictions = set(result.engine.context.predictions)
    assert predictions <= {0, 1} and len(result.engine.context.predictions) > 100


def test_cvxpy_and_scipy_agree_on_minimum_variance(tmp_path: Path) -> None:
    result = _run(tmp_path, "cvxpy_scipy_minvar.py")
    gaps = result.engine.context.gaps
    assert len(gaps) == 6 and max(gaps) < 1e-3  # two solvers, one answer


# ------------------------------------------------------------------------------------------ missing libraries
def test_a_missing_library_names_the_package_and_the_extra(tmp_path: Path) -> None:
    """cvxopt (in Quantopian's sandbox, not in this environment) is really missing here."""
    source = "import math\nimport cvxopt\n\ndef initialize(context):\n    pass\n"
    with pytest.raises(AlgorithmLoadError) as info:
        run_algo(tmp_path, source, start="2012-01-03", end="2012-01-05")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'algo.py'}:2: ") and "pip install cvxopt" in message
    assert "ModuleNotFoundError" not in message and "Traceback" not in message


def test_the_error_is_still_an_import_error_for_fallbacks(tmp_path: Path) -> None:
    source = """
    def initialize(context):
        try:
            from cvxopt import solvers
            context.kind = "cvxopt"
        except ImportError as exc:
            context.kind = type(exc).__name__
    """
    result = run_algo(tmp_path, source, start="2012-01-03", end="2012-01-05")
    assert result.engine.context.kind == MissingLibraryError.__name__
    assert issubclass(MissingLibraryError, ModuleNotFoundError)


#: run in a fresh interpreter in which ``talib`` cannot be found: a meta-path finder answers "no such module" for
#: it, exactly as Python does when a package is not installed (this process's imports are not touched)
_WITHOUT_TALIB = textwrap.dedent("""
    import sys
    from importlib.abc import MetaPathFinder

    class NotInstalled(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "talib" or name.startswith("talib."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.modules.pop("talib", None)
    sys.meta_path.insert(0, NotInstalled())
    from runtime.cli import main
    sys.exit(main(["backtest", sys.argv[1], "--start", "2012-01-03", "--end", "2012-01-10"]))
""")


@pytest.mark.slow
def test_talib_not_installed_names_ta_lib_and_the_quant_extra(tmp_path: Path) -> None:
    algo = ALGOS / "talib_rsi.py"
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_TALIB, str(algo)], capture_output=True, text=True,
                          cwd=tmp_path, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    line = next(i for i, text in enumerate(algo.read_text().splitlines(), 1) if text == "import talib")
    assert f"{algo}:{line}: the algorithm imports 'talib'" in output
    assert "pip install ta-lib" in output and 'pip install "ibalgo[quant]"' in output
    assert "Traceback" not in output


def test_every_library_of_the_quant_extra_is_in_setup_py() -> None:
    setup = (REPO / "setup.py").read_text()
    quant = setup[setup.index('"quant": ['):]
    quant = quant[: quant.index("]")]
    for dist, extra in LIBRARIES.values():
        if extra == "quant":
            assert f'"{dist}>=' in quant, dist


def test_a_library_missing_under_another_names_both() -> None:
    from runtime.algorithm.libraries import missing_library

    error = missing_library(ModuleNotFoundError("No module named 'scipy'", name="scipy.linalg"), "sklearn.ensemble")
    assert error is not None and error.name == "scipy"
    assert str(error).startswith("the algorithm imports 'sklearn', which needs 'scipy' (Quantopian provided it)")
    assert missing_library(ModuleNotFoundError("No module named 'foo'", name="foo"), "foo") is None


def test_pykalman_filter_on_history(tmp_path: Path) -> None:
    result = _run(tmp_path, "pykalman_trend.py", end="2011-03-31")
    gaps = np.array(result.engine.context.gaps)
    assert len(gaps) == len(result.perf) and np.isfinite(gaps).all()
    assert result.perf["trend"].between(100, 250).all()  # IBM traded between those in 2011
