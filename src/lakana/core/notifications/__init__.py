"""Notifications: an in-app inbox per user, and e-mail through the configured SMTP server."""
