"""Event bus: in-process for one machine; NATS JetStream for a city (see docs/operations.md)."""
