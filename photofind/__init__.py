"""photofind: find photos in your own collection by example."""

__version__ = "0.1.0"
