import smtplib

from strata.deploy.roles.comms.client import start_tls
from strata.messaging.delivery import require_comms


def check_comms() -> None:
    """Connect to the comms server over SMTP and send NOOP (2 s timeout); raise when it does not answer."""
    c = require_comms()
    with smtplib.SMTP(c["address"], c["port"], timeout=2, local_hostname=c["helo"]) as smtp:
        start_tls(smtp, c["tls"])
        code, _ = smtp.noop()
        if code != 250:
            raise smtplib.SMTPResponseException(code, "NOOP refused")
