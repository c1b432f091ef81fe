"""Analytics layer: the queries every view answers: app map, transactions, conversations,
custom events, over a time window."""

from .window import EVERYTHING, TimeWindow

__all__ = ["EVERYTHING", "TimeWindow"]
