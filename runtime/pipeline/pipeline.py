"""``Pipeline``: a set of named output columns and a screen."""

from __future__ import annotations

from typing import Any

from runtime.pipeline.errors import PipelineError, UnsupportedPipelineOutput
from runtime.pipeline.term import BOOL, ComputableTerm, LoadableTerm, NotSpecified, Term


def _check_column(name: str, term: Any) -> None:
    if isinstance(term, LoadableTerm):
        raise UnsupportedPipelineOutput(
            f"pipeline column {name!r} is the raw data column {term!r}: use {term!r}.latest (or a factor of it)"
        )
    if not isinstance(term, ComputableTerm):
        raise PipelineError(f"pipeline column {name!r} must be a factor, filter or classifier, not {term!r}")
    if term.outputs is not NotSpecified:
        raise PipelineError(f"pipeline column {name!r} has several outputs {term.outputs}: add each one, e.g. "
                            f"{name}.{term.outputs[0]}")
    if term.ndim != 2:
        raise PipelineError(f"pipeline column {name!r} is a single-asset slice; it can only be an input")


class Pipeline:
    """Named columns computed for every asset once per session, and an optional screen (a Filter) choosing the
    rows of the output.

    ``Pipeline(columns={'sma': SimpleMovingAverage(...)}, screen=AverageDollarVolume(...).top(500))``; then
    ``attach_pipeline(pipe, 'my_pipe')`` in initialize and ``pipeline_output('my_pipe')`` in
    before_trading_start, handle_data or a scheduled function.
    """

    def __init__(self, columns: dict[str, Term] | None = None, screen: Term | None = None, domain: Any = None):
        self._columns: dict[str, Term] = {}
        for name, term in (columns or {}).items():
            self.add(term, name)
        self._screen: Term | None = None
        if screen is not None:
            self.set_screen(screen)
        self.domain = domain

    @property
    def columns(self) -> dict[str, Term]:
        """The output columns (a copy: use add/remove to change them)."""
        return dict(self._columns)

    @property
    def screen(self) -> Term | None:
        return self._screen

    def add(self, term: Term, name: str, overwrite: bool = False) -> None:
        """Add a column ``name``; KeyError if it exists and ``overwrite`` is False."""
        if not isinstance(name, str):
            raise PipelineError(f"a pipeline column's name must be a string, not {name!r}")
        _check_column(name, term)
        if name in self._columns and not overwrite:
            raise KeyError(f"the pipeline already has a column named {name!r} (pass overwrite=True to replace it)")
        self._columns[name] = term

    def remove(self, name: str) -> Term:
        """Remove the column ``name`` and return its term."""
        return self._columns.pop(name)

    def set_screen(self, screen: Term, overwrite: bool = False) -> None:
        """Set the screen (a Filter); ValueError if one is set and ``overwrite`` is False."""
        if self._screen is not None and not overwrite:
            raise ValueError("the pipeline already has a screen: pass overwrite=True to replace it, or combine "
                             "filters with &")
        if not isinstance(screen, ComputableTerm) or screen.dtype != BOOL:
            raise PipelineError(f"a pipeline's screen must be a Filter, not {screen!r}")
        self._screen = screen

    def __repr__(self) -> str:
        return f"Pipeline(columns={list(self._columns)}, screen={self._screen!r})"
