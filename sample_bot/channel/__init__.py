"""The channel simulator: a Bot Framework channel on loopback, driven over HTTP."""

from .simulator import ChannelSimulator, build_app

__all__ = ["ChannelSimulator", "build_app"]
