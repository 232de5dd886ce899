"""Monitoring and evaluation of the national cybersecurity strategy: its action plan (axes,
objectives, actions, milestones, dependencies) and its indicators with yearly targets."""
