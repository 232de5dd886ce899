"""Detection of intrusions and unauthorized access: log parsing into one schema (Elastic
Common Schema names) and Sigma rules compiled once into an in-memory evaluator.

Events are flat dictionaries keyed by dotted ECS field names (``source.ip``, ``user.name``,
``event.outcome``, ``winlog.event_id``...), with ``message`` and ``log.original`` always set.
"""
