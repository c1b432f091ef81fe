"""correlation layer."""
