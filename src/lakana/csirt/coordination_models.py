"""Tables of the CSIRT coordination slice (being built)."""
