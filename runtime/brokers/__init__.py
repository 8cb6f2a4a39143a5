"""brokers layer."""
