"""Lakana: sovereign platform for national cybersecurity governance and biometric registry protection."""

__version__ = "0.1.0"
