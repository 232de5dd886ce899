"""Durable background jobs in the application's own database, run by ``lakana worker``."""
