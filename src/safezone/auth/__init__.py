"""Accounts, roles, sessions, bearer tokens and login throttling."""
