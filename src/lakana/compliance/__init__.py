"""National security baseline: OSCAL catalogs, profiles, and (later) assessments."""
