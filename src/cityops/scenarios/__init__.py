"""Scenario modules: plans and views on the core (cases, sensing, registry), not separate systems.

Each scenario is a package with the domain file roles (models, schemas, service, api, pure logic);
its router is mounted under /api/v1 by ``api/app.py`` like any domain's.
"""
