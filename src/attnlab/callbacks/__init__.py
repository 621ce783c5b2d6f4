"""Lightning callbacks: attention plots."""

from attnlab.callbacks.alignment import AlignmentPlot

__all__ = ["AlignmentPlot"]
