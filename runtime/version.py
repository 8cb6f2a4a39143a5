"""The runtime's version (one place: setup.py reads it from here too)."""

__version__ = "0.1.0"
