"""Hand one inbound email to an app server: run by Postfix's pipe(8) as the strata-mail user.

Usage: deliver.py CONFIG_JSON SENDER RECIPIENT < message

Standard library only: it runs on the comms host from a copy in var/etc/comms/. The exit status follows
sysexits.h, which Postfix maps to its DSN: 0 delivered, 75 try again later (app down or misconfigured:
the mail stays queued), 65/67/77 bounce with the app's one-line reason.
"""

import http.client
import json
import ssl
import sys

EX_OK, EX_DATAERR, EX_NOUSER, EX_SOFTWARE, EX_TEMPFAIL, EX_NOPERM = 0, 65, 67, 70, 75, 77
# App answer -> exit status. 401 means the shared secret differs (a deployment problem, not the
# sender's): keep the mail queued until it is fixed.
STATUS_EXIT = {
    400: EX_DATAERR,
    413: EX_DATAERR,
    422: EX_DATAERR,
    404: EX_NOUSER,
    403: EX_NOPERM,
    401: EX_TEMPFAIL,
}


def connection(conf, address, port):
    """Return a connection to one app server: HTTPS verified with the site CA (the certificate must name
    ADDRESS) when conf has a cafile, plain HTTP only when every end is on this machine."""
    source = (conf["source"], 0)
    if conf.get("cafile") is None:
        return http.client.HTTPConnection(address, port, timeout=60, source_address=source)
    context = ssl.create_default_context(cafile=conf["cafile"])
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return http.client.HTTPSConnection(address, port, timeout=60, source_address=source, context=context)


def post(app, conf, secret, sender, recipient, body):
    address, port = app
    conn = connection(conf, address, port)
    try:
        conn.request(
            "POST",
            conf["path"],
            body=body,
            headers={
                "Host": address,
                "Content-Type": "message/rfc822",
                "Authorization": f"Bearer {secret}",
                "X-Strata-Sender": sender.encode("ascii", "replace").decode(),
                "X-Strata-Recipient": recipient.encode("ascii", "replace").decode(),
            },
        )
        resp = conn.getresponse()
        return resp.status, resp.read(2000).decode("utf-8", "replace")
    finally:
        conn.close()


def main(argv):
    if len(argv) != 4:
        print("usage: deliver.py CONFIG SENDER RECIPIENT", file=sys.stderr)
        return EX_SOFTWARE
    with open(argv[1], encoding="utf-8") as fh:
        conf = json.load(fh)
    with open(conf["secret_file"], encoding="utf-8") as fh:
        secret = fh.read().strip()
    body = sys.stdin.buffer.read(conf["max_bytes"] + 1)
    if len(body) > conf["max_bytes"]:
        print("5.3.4 message too large")
        return EX_DATAERR
    errors = []
    # Any app server will do: try them in turn, as nginx does for web requests.
    for app in conf["apps"]:
        try:
            status, text = post(app, conf, secret, argv[2], argv[3], body)
        except OSError as exc:
            errors.append(f"{app[0]}:{app[1]}: {exc}")
            continue
        if 200 <= status < 300:
            return EX_OK
        if status in STATUS_EXIT:
            print(" ".join(text.split())[:300] or f"HTTP {status}")
            return STATUS_EXIT[status]
        errors.append(f"{app[0]}:{app[1]}: HTTP {status}")
    print("4.4.1 no app server accepted the message: " + "; ".join(errors)[:300])
    return EX_TEMPFAIL


if __name__ == "__main__":
    sys.exit(main(sys.argv))
