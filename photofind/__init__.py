"""photofind: find photos in your own collection by example."""

__version__ = "0.2.0"
