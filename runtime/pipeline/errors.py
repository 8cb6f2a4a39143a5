"""Errors of the Pipeline API: each says what is wrong and what to write instead."""

from __future__ import annotations

from runtime.errors import AlgorithmApiError, ConfigError


class PipelineError(AlgorithmApiError, ValueError):
    """A pipeline term or Pipeline was built wrongly (bad window_length, wrong input type, unknown output...)."""


class UnsupportedPipelineOutput(PipelineError):
    """A raw data column was given as a pipeline column (use ``.latest``)."""


class NonWindowSafeInput(PipelineError):
    """A term that is not window-safe (its values change with the day it is seen from) was used in a window."""


class NoSuchPipeline(PipelineError, KeyError):
    """``pipeline_output(name)`` named a pipeline that was never attached."""


class FundamentalsNotConfigured(ConfigError, ImportError):
    """The algorithm uses fundamentals (or a file-backed DataSet) but no point-in-time table was configured."""
