"""Users, roles, jurisdiction scopes and tokens."""
