"""Lakana: sovereign platform for national cybersecurity governance and biometrics."""

__version__ = "0.1.0"
