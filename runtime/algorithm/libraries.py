"""The third-party libraries Quantopian gave every algorithm, and the message when one is missing here.

``pip install "ibalgo[quant]"`` installs the ones with well-kept PyPI distributions that install on a plain
machine (TA-Lib's ``ta-lib`` wheels bundle the C library). An algorithm that imports a missing one gets
:class:`MissingLibraryError` naming the package to install and the extra, instead of a bare
``ModuleNotFoundError``; it is still an ``ImportError``, so ``try: import talib`` / ``except ImportError:`` works.
"""

from __future__ import annotations

from runtime.errors import AlgorithmApiError

#: import name -> (PyPI distribution, the ibalgo extra that brings it, or None)
LIBRARIES: dict[str, tuple[str, str | None]] = {
    "talib": ("ta-lib", "quant"),
    "scipy": ("scipy", "quant"),
    "statsmodels": ("statsmodels", "quant"),
    "sklearn": ("scikit-learn", "quant"),
    "cvxpy": ("cvxpy", "quant"),
    "pykalman": ("pykalman", "quant"),
    "cvxopt": ("cvxopt", None),
    "pyfolio": ("pyfolio-reloaded", None),
    "empyrical": ("empyrical-reloaded", None),
}


class MissingLibraryError(AlgorithmApiError, ModuleNotFoundError):
    """An algorithm imported a library Quantopian provided that is not installed here."""


def missing_library(exc: ModuleNotFoundError, imported: str = "") -> MissingLibraryError | None:
    """Our error for ``exc`` (raised importing ``imported``) if the missing module is one of :data:`LIBRARIES`
    (else None: not ours to explain)."""
    top = (exc.name or "").split(".")[0]
    known = LIBRARIES.get(top)
    if known is None:
        return None
    dist, extra = known
    wanted = imported.split(".")[0]
    what = f"{top!r}" if not wanted or wanted == top else f"{wanted!r}, which needs {top!r}"
    message = f"the algorithm imports {what} (Quantopian provided it), but it is not installed: pip install {dist}"
    if extra:
        message += f' (or pip install "ibalgo[{extra}]" for all the libraries Quantopian provided)'
    error = MissingLibraryError(message)
    error.name = top
    return error
