"""Assessment campaigns: a profile × a set of institutions, self-assessments, review, score."""
