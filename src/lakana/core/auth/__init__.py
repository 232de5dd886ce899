"""Accounts, sessions, MFA, API tokens, roles and scope."""
