"""Lakana as a MOSIP ABIS: the ABIS API v0.9 messages (Insert, Identify, Delete, Ping,
PendingJobs, ReferenceCount) over HTTP, with durable jobs for the long operations."""
