"""Awareness dashboards: training coverage, role coverage and phishing rates, per
institution and for the nation, with CSV, XLSX and PDF exports."""
