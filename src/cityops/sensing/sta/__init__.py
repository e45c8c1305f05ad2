"""The OGC SensorThings API 1.1 door: query options (OData subset), their SQL, the HTTP routes."""
