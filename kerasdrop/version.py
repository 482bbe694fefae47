"""The version of kerasdrop."""

__version__ = "0.1.0"
