"""The comms role's facts: Postfix (see role.py for how it runs, client.py for its naming rules)."""

from __future__ import annotations

from strata.deploy.roles.spec import OptionError, Port, RoleSpec


def validate(config) -> None:
    """Refuse comms options that would end up in Postfix's config or in mail headers malformed."""
    if "comms" not in config.roles:
        return
    comms = config.roles["comms"].options
    SPEC.check_range(comms, "max_message_kb", 1, 102400)
    if not 1 <= comms["relay_port"] <= 65535:
        raise OptionError(SPEC.key("relay_port"), f"port {comms['relay_port']} is out of range 1..65535")
    user = comms["relay_username"]
    if user and (not user.isprintable() or any(c in user for c in " :\t")):
        raise OptionError(SPEC.key("relay_username"), "may not hold spaces, ':' or control characters")
    if user and not comms["relay_host"]:
        raise OptionError(SPEC.key("relay_username"), "set roles.comms.relay_host too")


SPEC = RoleSpec(
    name="comms",
    required=False,
    options={
        "port": (int, 18025),
        "max_message_kb": (int, 1024),
        "reply_domain": (str, ""),
        "from_address": (str, ""),
        "relay_host": (str, ""),
        "relay_port": (int, 587),
        "relay_starttls": (bool, True),
        "relay_username": (str, ""),
        # Whether the firewall `strata deploy` installs lets the whole internet reach `port` (replies by
        # email need it); off, only the app hosts may submit mail.
        "public_smtp": (bool, False),
        # With the monitor role: the queue probe's metrics (comms/metrics.py; the monitor host only).
        "metrics_port": (int, 18165),
    },
    # reply_domain, from_address, relay_host: checked by their kind; empty means "derived" or "none".
    kinds={
        "reply_domain": "host_name",
        "from_address": "email",
        "relay_host": "host",
        "relay_username": "text",
    },
    ports=(Port("port"), Port("metrics_port", with_role="monitor")),
    validate=validate,
    fallback="messages stay in the app; the people directory shows each person's email, phone and fax",
    # SASL modules for an authenticated relay.
    packages=("postfix", "libsasl2-modules"),
    # Postfix's delivery to the app authenticates with the first; the second (optional, the admin's) logs in
    # at the relay.
    secrets=("comms_inbound_secret", "comms_relay_password"),
)
