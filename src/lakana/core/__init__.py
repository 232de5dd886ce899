"""Shared core: config, database, errors, audit ledger, accounts, web shell, i18n, jobs."""
