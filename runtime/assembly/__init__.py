"""How a run is put together, above the engine and the algorithm API: one module per mode builds the engine, the
API, ``context``, ``data`` and the algorithm (:mod:`~runtime.assembly.backtest`, :mod:`~runtime.assembly.live`), and
one shared step ends every run (:mod:`~runtime.assembly.finish`)."""
