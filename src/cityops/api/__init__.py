"""The HTTP API under /api/v1, and the standard doors (Open311, SensorThings) later."""
