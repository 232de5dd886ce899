"""The syslog receiver: RFC 6587 framing over TCP (optionally TLS), the registered senders
that attribute each connection's events to an institution and system, and the server."""
