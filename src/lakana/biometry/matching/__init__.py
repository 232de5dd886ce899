"""Matching: face encoders and templates, exact 1:N search over face embeddings."""
