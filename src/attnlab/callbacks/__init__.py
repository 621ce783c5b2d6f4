"""Lightning callbacks: attention plots, random state for exact resumes."""

from attnlab.callbacks.alignment import AlignmentPlot
from attnlab.callbacks.random_state import RandomState

__all__ = ["AlignmentPlot", "RandomState"]
