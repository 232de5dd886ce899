"""Shared core: configuration, database, errors, audit ledger, accounts, web shell, i18n, jobs, files."""
