"""Risk register per institution, national top risks and the agency's national priorities."""
