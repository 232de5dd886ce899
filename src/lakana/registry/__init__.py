"""Registry domain: institutions, their information systems, endpoints and contacts."""
