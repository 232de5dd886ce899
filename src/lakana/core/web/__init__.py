"""The web shell: middleware, templates, request dependencies, error handling, core pages."""
