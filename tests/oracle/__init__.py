"""The zipline-reloaded oracle for Pipeline: shared data, the recorder both systems run, the generator script."""
