"""The sovereign biometric identity registry (Mali Kura Biometry): enrollment, protection at
rest, purpose-bound access and transparency."""
