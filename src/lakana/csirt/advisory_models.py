"""Tables of the CSIRT advisory slice (being built)."""
