"""The comms role's facts: Postfix (see role.py for how it runs, client.py for its naming rules)."""

from __future__ import annotations

from strata.deploy.roles.spec import OptionError, Port, RoleSpec, is_host_name, is_ip


def _check_addresses(comms) -> None:
    if comms["reply_domain"] and not is_host_name(comms["reply_domain"]):
        raise OptionError(SPEC.key("reply_domain"), f"not a domain name: {comms['reply_domain']!r}")
    relay = comms["relay_host"]
    if relay and not (is_host_name(relay) or is_ip(relay)):
        raise OptionError(SPEC.key("relay_host"), f"not a host name or address: {relay!r}")
    sender = comms["from_address"]
    local, _, domain = sender.rpartition("@")
    if sender and not (
        local
        and is_host_name(domain)
        and local.isascii()
        and local.isprintable()
        and not any(c in local for c in ' <>()[],;:"\\@')
    ):
        raise OptionError(
            SPEC.key("from_address"), f"not a plain address like noreply@example.org: {sender!r}"
        )


def validate(config) -> None:
    """Refuse comms options that would end up in Postfix's config or in mail headers malformed."""
    if "comms" not in config.roles:
        return
    comms = config.roles["comms"].options
    SPEC.check_range(comms, "max_message_kb", 1, 102400)
    if not 1 <= comms["relay_port"] <= 65535:
        raise OptionError(SPEC.key("relay_port"), f"port {comms['relay_port']} is out of range 1..65535")
    _check_addresses(comms)
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
    },
    ports=(Port("port"),),
    validate=validate,
    fallback="messages stay in the app; the people directory shows each person's email, phone and fax",
    # SASL modules for an authenticated relay.
    packages=("postfix", "libsasl2-modules"),
    # Postfix's delivery to the app authenticates with the first; the second (optional, the admin's) logs in
    # at the relay.
    secrets=("comms_inbound_secret", "comms_relay_password"),
)
