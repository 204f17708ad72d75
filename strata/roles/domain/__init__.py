"""The domain role: not built yet, so its fallback is in use."""

from strata.roles import UnbuiltRole

ROLE = UnbuiltRole("domain")
