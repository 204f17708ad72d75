"""Strata: a self-hosted, multi-server team workspace."""

__version__ = "0.1.0"
