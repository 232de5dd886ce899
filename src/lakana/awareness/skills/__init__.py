"""The skills register: who holds which security role, certifications, staffing gaps."""
