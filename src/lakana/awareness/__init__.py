"""Culture of digital security: the skills register, training, exercises and awareness."""
