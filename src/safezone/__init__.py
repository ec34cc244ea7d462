"""SafeZone: command platform for a police station's Smart Safety Zone."""

__version__ = "0.1.0"
