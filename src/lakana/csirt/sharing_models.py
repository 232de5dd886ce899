"""Tables of the CSIRT sharing slice (being built)."""
