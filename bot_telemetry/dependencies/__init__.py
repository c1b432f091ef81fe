"""dependencies layer."""
