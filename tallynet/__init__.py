"""tallynet: neural networks from scratch in NumPy whose every layer keeps a tally of its own cost."""

__version__ = "0.1.0"
