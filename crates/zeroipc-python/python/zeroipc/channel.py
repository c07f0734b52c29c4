"""Upstream's module path `zeroipc.channel` (for scripts that import from it): the classes
live in the extension; see docs/PYTHON.md."""

from ._pysync import ChannelClosed, make_buffered_channel, make_channel, make_unbuffered_channel
from ._zeroipc import Channel, Select

__all__ = [
    "Channel",
    "ChannelClosed",
    "Select",
    "make_channel",
    "make_buffered_channel",
    "make_unbuffered_channel",
]
