"""Awareness campaigns for public servants and the public, with their reach and outcomes."""
