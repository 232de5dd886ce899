"""Tests of compliance reports: trends, peers, exports, PDFs, pages and CLI."""
