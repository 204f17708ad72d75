"""Django's PostgreSQL backend, checking each pooled connection before use (base.py; ENGINE in settings)."""
