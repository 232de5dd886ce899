"""Protection at rest of biometric data: envelope encryption (AES-256-GCM data keys wrapped by
a master key held in a keystore file or an HSM), blind indexes for exact-match lookups, and
master key rotation."""
