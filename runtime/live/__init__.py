"""Paper and live runs: the engine trading through the IB adapter (``ibalgo run``)."""
