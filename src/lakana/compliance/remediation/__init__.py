"""Remediation: every gap of a self-assessment becomes a tracked action (owner, due date,
priority, status); overdue actions surface on the dashboard and in a daily digest."""
