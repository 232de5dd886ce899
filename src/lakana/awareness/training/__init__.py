"""Training catalogue and tracking: courses, sessions, trainees, enrolments, certificates."""
