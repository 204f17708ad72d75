"""How django-axes names the account a login attempt was for."""


def username(request, credentials) -> str:
    """Return the attempted username as logins match it (case-insensitive), bounded to the column's
    size so an oversized name is counted instead of failing to save."""
    value = (credentials or {}).get("username") or request.POST.get("username", "")
    return str(value).strip().lower()[:150]
