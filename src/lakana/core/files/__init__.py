"""Content-addressed file store: blobs named by their SHA-256, metadata in ``core_file``."""
