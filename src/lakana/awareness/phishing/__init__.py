"""Phishing exercises: templates, exercises, targets and their tracked events."""
