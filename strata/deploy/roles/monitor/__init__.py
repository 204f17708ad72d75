"""The monitor role: Prometheus from Debian, scraping every role's metrics endpoint (optional, off by
default)."""
