"""nexus: proxy-signal risk scores for the trafficking–corruption nexus."""

__version__ = "0.1.0"
