"""Lightning callbacks: attention plots, random state for exact resumes, non-finite losses, Ctrl-C."""

from attnlab.callbacks.alignment import AlignmentPlot
from attnlab.callbacks.finite_loss import FiniteLoss
from attnlab.callbacks.interrupt import GracefulInterrupt
from attnlab.callbacks.random_state import RandomState

__all__ = ["AlignmentPlot", "FiniteLoss", "GracefulInterrupt", "RandomState"]
