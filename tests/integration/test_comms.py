"""The comms role against a real Postfix: notifications out, replies back in, retries, bad input.

One stack (PostgreSQL, gunicorn, nginx, Postfix) for the module, started by strata.deploy.up. No relay is
configured, so every outgoing mail lands in the local outbox (a Maildir), which the tests read.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import smtplib
import stat
import time
import urllib.parse
from email.message import EmailMessage

import pytest

from strata.deploy import config as cfgmod
from strata.deploy import health
from strata.deploy import local as deploy
from strata.deploy.roles.app.client import get_healthz
from strata.deploy.roles.comms.outbox import list_outbox
from strata.deploy.supervisor import Supervisor
from tests.support import in_site
from tests.support.client import Client, text_of
from tests.support.mail import outbox_to
from tests.support.stack import Stack, drill, free_ports, make_root, require_servers, write_topology
from tests.support.waits import wait_for

pytestmark = pytest.mark.integration

MAX_KB = 64
PEOPLE = [
    ("ada", "Ada", "Lovelace"),
    ("grace", "Grace", "Hopper"),
    ("alan", "Alan", "Turing"),
    ("kj", "Katherine", "Johnson"),
]


def save_people(st: Stack) -> None:
    """Save the four people, each with an email address; all but kj are in the group crew."""
    st.call(
        in_site.save_people,
        [
            {
                "username": username,
                "password": "correct horse battery " + username,
                "details": {
                    "first_name": first,
                    "last_name": last,
                    "email": username + "@example.org",
                    "phone": "+1 555 0100",
                },
                "groups": [] if username == "kj" else ["crew"],
            }
            for username, first, last in PEOPLE
        ],
    )


@pytest.fixture(scope="module")
def comms_stack():
    require_servers()
    if not os.path.exists("/usr/sbin/postfix"):
        pytest.fail("Postfix is not installed (make test installs it)")
    root = make_root("strata-comms-")
    (smtp_port,) = free_ports(1)
    path = write_topology(
        root,
        extra=f"""
[roles.comms]
hosts = ["local"]
port = {smtp_port}
max_message_kb = {MAX_KB}
""",
    )
    try:
        result = deploy.up(path)
        config = cfgmod.load(path)
        st = Stack(root, config, cfgmod.load_secrets(config), result)
        save_people(st)
        yield st
    finally:
        try:
            deploy.down(path)
        finally:
            shutil.rmtree(root, ignore_errors=True)


def smtp_port(st) -> int:
    return st.config.roles["comms"]["port"]


def login(st, username) -> Client:
    c = Client(st.url, st.ca)
    resp = c.login(username, "correct horse battery " + username)
    assert "/accounts/login/" not in resp.url, resp.text[:300]
    return c


def fetch_post(c: Client, path: str, data: dict):
    """POST the way messaging.js does (fetch with the form's CSRF token)."""
    if c.cookie("csrftoken") is None:
        c.get("/messages/")
    return c.request(
        "POST",
        path,
        {"csrfmiddlewaretoken": c.cookie("csrftoken"), **data},
        headers={"Origin": c.base, "Referer": c.base + "/messages/", "X-Requested-With": "fetch"},
    )


def conversation_id(resp) -> int:
    found = re.search(r"/messages/c/(\d+)/", resp.url)
    assert found, resp.url
    return int(found.group(1))


def start(c: Client, to: str, subject: str, body: str):
    return c.post("/messages/new/", {"to": to, "subject": subject, "body": body})


def send_mail(st, msg: EmailMessage | bytes, to: str, sender="grace@example.org", source="127.0.0.1"):
    with smtplib.SMTP(
        st.config.host_of("comms").address,
        smtp_port(st),
        timeout=10,
        local_hostname="client.test",
        source_address=(source, 0),
    ) as smtp:
        if isinstance(msg, bytes):
            return smtp.sendmail(sender, [to], msg)
        return smtp.send_message(msg, from_addr=sender, to_addrs=[to])


def reply(to: str, text: str, sender="Grace Hopper <grace@example.org>", msgid=None) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = sender, to, "Re: notification"
    m["Message-ID"] = msgid or f"<{time.monotonic_ns()}@example.org>"
    m.set_content(text)
    return m


def messages_in(st, conv: int) -> list[tuple[str, str]]:
    return [(via, body) for via, body in st.call(in_site.messages_of, conv)]


def app_log(st) -> str:
    logs = (st.config.var_dir / "log" / "app").glob("app-*.log")
    return "".join(p.read_text(errors="replace") for p in logs)


@pytest.fixture(scope="module")
def first_mail(comms_stack):
    """Ada writes to Grace through the web UI; return (conversation id, Grace's notification)."""
    st = comms_stack
    ada = login(st, "ada")
    resp = start(ada, "grace", "Launch plans", "Shall we meet at <b>ten</b>?")
    assert resp.status == 200, resp.text[:500]
    conv = conversation_id(resp)
    mails = wait_for(
        lambda: outbox_to(st.config.var_dir, "grace@example.org", "Launch plans"), what="Grace's notification"
    )
    assert len(mails) == 1
    return conv, mails[0]


def test_comms_is_healthy_private_and_its_links_are_checked(comms_stack):
    st = comms_stack
    roles = {r.role: r for r in health.roles_report(st.config, st.secrets)}
    assert roles["comms"].state == "ok"
    assert "NOOP 250" in roles["comms"].detail
    links = {(x.source, x.target): x for x in health.links_report(st.config, st.secrets)}
    assert links[("app", "comms")].state == "ok"
    assert links[("comms", "app")].state == "ok", links[("comms", "app")].detail
    inst = st.config.app_instances()[0]
    checks = get_healthz(inst.host.address, inst.port)["checks"]
    assert checks["comms"]["ok"]
    assert checks["comms"]["critical"] is False
    etc = st.config.var_dir / "etc" / "comms"
    main = (etc / "main.cf").read_text()
    assert "inet_interfaces = 127.0.0.1\n" in main
    assert "mynetworks = 127.0.0.1/32\n" in main
    assert "default_transport = virtual\n" in main
    assert "relayhost =\n" in main
    assert "smtp_dns_support_level = disabled" in main
    assert "smtpd_peername_lookup = no" in main
    secret = (etc / "inbound.secret").stat()
    assert stat.S_IMODE(secret.st_mode) == 0o600
    assert pwd.getpwuid(secret.st_uid).pw_name == "strata-mail"
    assert st.secrets["comms_inbound_secret"] not in "".join(
        p.read_text(errors="replace") for p in (st.config.var_dir / "log").rglob("*.log")
    )
    outbox = st.config.var_dir / "data" / "comms" / "outbox"
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o700
    assert grp.getgrgid(outbox.stat().st_gid).gr_name != "root"


def test_notification_reaches_the_outbox_with_the_right_headers(comms_stack, first_mail):
    st = comms_stack
    conv, mail = first_mail
    msg = mail.message()
    assert msg["From"].addresses[0].display_name == "Ada Lovelace via Strata test"
    assert msg["From"].addresses[0].addr_spec == "noreply@localhost"
    assert str(msg["To"]) == "grace@example.org"
    assert msg["Subject"] == "Ada Lovelace: Launch plans"
    assert msg["Auto-Submitted"] == "auto-generated"
    info = st.call(in_site.notification_of, "grace", conv)
    assert msg["Message-ID"] == info["msgid"]
    assert (info["state"], info["attempts"]) == ("sent", 1)
    assert info["body"] == ""  # not kept once sent
    assert str(msg["Reply-To"]) == f"reply+{info['reply_token']}@localhost"
    body = msg.get_body(("plain",)).get_content()
    assert "Shall we meet at <b>ten</b>?" in body
    assert f"{st.url}/messages/c/{conv}/" in body


def test_reply_by_smtp_lands_in_the_conversation_once(comms_stack, first_mail):
    st = comms_stack
    conv, mail = first_mail
    to = str(mail.message()["Reply-To"])
    text = (
        "Ten works for me.\n\nGrace\n-- \nRear Admiral Grace Hopper\n\n"
        "On Mon, 1 Jan 2024 at 09:00, Ada via Strata <noreply@localhost> wrote:\n"
        "> ## Reply above this line to answer in Strata ##\n> Shall we meet at ten?\n"
    )
    m = reply(to, text, msgid="<once-only@example.org>")
    send_mail(st, m, to)
    wait_for(lambda: ("email", "Ten works for me.\n\nGrace") in messages_in(st, conv), what="the reply")
    send_mail(st, m, to)  # the same email again (e.g. a client resending): not added twice
    ada = login(st, "ada")
    page = ada.get(f"/messages/c/{conv}/")
    assert "Ten works for me." in page.text
    assert "by email" in page.text
    assert "Rear Admiral" not in page.text
    assert "Reply above this line" not in page.text
    time.sleep(2)
    assert [b for v, b in messages_in(st, conv) if v == "email"] == ["Ten works for me.\n\nGrace"]
    # Ada is told about the reply, by email too.
    wait_for(
        lambda: outbox_to(st.config.var_dir, "ada@example.org", "Grace Hopper"), what="Ada's notification"
    )


def test_mail_waits_while_comms_is_down_and_is_delivered_exactly_once(comms_stack):
    st = comms_stack
    sup = Supervisor(st.config.var_dir)
    ada = login(st, "ada")
    resp = start(ada, "alan", "Outage drill", "first")
    conv = conversation_id(resp)
    wait_for(
        lambda: outbox_to(st.config.var_dir, "alan@example.org", "Outage drill"),
        what="the first notification",
    )
    sup.stop("comms")
    try:
        roles = {r.role: r for r in health.roles_report(st.config, st.secrets)}
        assert roles["comms"].state == "down"
        for i in range(3):
            assert fetch_post(ada, f"/messages/c/{conv}/send/", {"body": f"while down {i}"}).status == 201
        inst = st.config.app_instances()[0]
        degraded = get_healthz(inst.host.address, inst.port)
        assert degraded["status"] == "degraded"
        assert not degraded["checks"]["comms"]["ok"]

        def retried():
            return st.call(in_site.retried_notifications, "alan@example.org") == 3

        wait_for(retried, what="failed attempts while comms is down")
    finally:
        sup.start("comms")
    msgids = st.call(in_site.notification_msgids, conv)
    assert len(msgids) == 4

    def delivered():
        ids = [m.message_id for m in list_outbox(st.config.var_dir)]
        return all(ids.count(x) >= 1 for x in msgids) and ids

    ids = wait_for(delivered, timeout=60, what="delivery after comms came back")
    # A late duplicate task for a sent email changes nothing.
    assert st.call(in_site.deliver_again, conv) == ["sent"] * len(msgids)
    time.sleep(2)
    ids = [m.message_id for m in list_outbox(st.config.var_dir)]
    assert all(ids.count(x) == 1 for x in msgids), "an email was delivered twice"


def test_bad_input_on_the_web_gets_a_clear_answer_and_changes_nothing(comms_stack):
    st = comms_stack
    ada = login(st, "ada")
    before = [st.call(in_site.messaging_rows, model) for model in ("Conversation", "Message")]
    cases = [
        ({"to": "grace", "subject": "Hi\r\nBcc: evil@example.org", "body": "x"}, 400, "single line"),
        ({"to": "nobody-here", "subject": "", "body": "x"}, 400, "no person or group called"),
        ({"to": "group:ghosts", "subject": "", "body": "x"}, 400, "no person or group called"),
        ({"to": "ada", "subject": "", "body": "x"}, 400, "with yourself"),
        ({"to": "grace", "subject": "", "body": "   "}, 400, "Write a message first"),
        ({"to": "grace", "subject": "", "body": "é" * (MAX_KB * 1024)}, 413, f"at most {MAX_KB} KB"),
        ({"to": "grace\nBcc: x@example.org", "subject": "", "body": "x"}, 400, "no person or group"),
    ]
    for data, status, text in cases:
        resp = start(ada, **data)
        assert resp.status == status, (data["to"], resp.status)
        assert text in text_of(resp.text), (data["to"], resp.status)
    kj = login(st, "kj")
    resp = start(kj, "crew", "", "let me in")
    assert resp.status == 403
    assert "not a member of the group" in resp.text
    assert [st.call(in_site.messaging_rows, model) for model in ("Conversation", "Message")] == before
    # HTML in a message is shown as text; strangers cannot read or post to a conversation.
    conv = conversation_id(start(ada, "grace", "Markup", '<script>alert("x")</script><img src=x>'))
    page = ada.get(f"/messages/c/{conv}/")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page.text
    assert "<script>alert" not in page.text
    assert kj.get(f"/messages/c/{conv}/").status == 404
    assert fetch_post(kj, f"/messages/c/{conv}/send/", {"body": "hi"}).status == 404
    no_csrf = ada.request(
        "POST",
        f"/messages/c/{conv}/send/",
        {"body": "x"},
        headers={"Origin": st.url, "Referer": st.url + "/"},
    )
    assert no_csrf.status == 403


def test_names_with_line_breaks_cannot_inject_headers(comms_stack):
    st = comms_stack
    st.call(in_site.set_first_name, "alan", "Alan\r\nBcc: evil@example.org")
    ada = login(st, "ada")
    start(ada, "alan", "Injection", "hello")
    try:
        alan = login(st, "alan")
        conv = conversation_id(start(alan, "ada", "Header test", "from Alan"))
        assert conv
        mail = wait_for(
            lambda: outbox_to(st.config.var_dir, "ada@example.org", "Header test"), what="notification"
        )[0]
        msg = mail.message()
        assert msg["Bcc"] is None
        assert "\n" not in str(msg["From"])
        assert msg["From"].addresses[0].display_name.startswith("Alan Bcc: evil@example.org")
        assert not outbox_to(st.config.var_dir, "evil@example.org")
    finally:
        st.call(in_site.set_first_name, "alan", "Alan")


def test_group_conversation_notifies_each_member_with_their_own_token(comms_stack):
    st = comms_stack
    ada = login(st, "ada")
    resp = start(ada, "crew", "Crew meeting", "Friday at noon")
    assert resp.status == 200
    grace = wait_for(lambda: outbox_to(st.config.var_dir, "grace@example.org", "Crew meeting"), what="grace")[
        0
    ]
    alan = wait_for(lambda: outbox_to(st.config.var_dir, "alan@example.org", "Crew meeting"), what="alan")[0]
    assert grace.subject.startswith("[crew]")
    assert str(grace.message()["Reply-To"]) != str(alan.message()["Reply-To"])
    assert not outbox_to(st.config.var_dir, "kj@example.org", "Crew meeting")


def test_bad_inbound_mail_is_rejected_logged_and_changes_nothing(comms_stack, first_mail):
    st = comms_stack
    conv, mail = first_mail
    to = str(mail.message()["Reply-To"])
    before = messages_in(st, conv)
    # No token at all: refused while the SMTP client is still connected.
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send_mail(st, reply("reply@localhost", "hi"), "reply@localhost")
    assert refused.value.recipients["reply@localhost"][0] == 550
    # Too big for max_message_kb: refused at MAIL FROM (SIZE).
    with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as big:
        send_mail(st, reply(to, "x" * (MAX_KB * 1024 + 10)), to)
    assert getattr(big.value, "smtp_code", 0) == 552
    forged = "reply+" + "a" * 26 + "@localhost"
    bad = [
        (forged, reply(forged, "forged token"), "unknown reply address"),
        (to, reply(to, "not me", sender="Mallory <mallory@example.org>"), "belongs to someone else"),
        (
            to,
            b"From: grace@example.org\r\nSubject: latin\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Message-ID: <bad-utf8@example.org>\r\n\r\ncaf\xe9 \xff\xfe\r\n",
            "not valid utf-8",
        ),
        (to, b"Subject: no sender\r\nMessage-ID: <nofrom@example.org>\r\n\r\nhello\r\n", "no From header"),
        (to, reply(to, "> only quoted text\n"), "empty once the quoted text is removed"),
    ]
    for rcpt, msg, _reason in bad:
        sender = "mallory@example.org" if "mallory" in str(msg) else "grace@example.org"
        send_mail(st, msg, rcpt, sender=sender)
    for _rcpt, _msg, reason in bad:
        wait_for(lambda reason=reason: reason.lower() in app_log(st).lower(), what=f"the log line '{reason}'")
    # Each sender gets a bounce naming the reason; nothing reached the conversation.
    bounces = wait_for(
        lambda: [
            m for m in list_outbox(st.config.var_dir) if "Undelivered" in m.subject or "Returned" in m.subject
        ],
        what="bounces",
    )
    texts = " ".join(b.path.read_text(errors="replace") for b in bounces).lower()
    assert "unknown reply address" in texts
    assert "belongs to someone else" in texts
    assert messages_in(st, conv) == before


def test_inbound_endpoint_only_answers_the_comms_host_with_the_secret(comms_stack):
    st = comms_stack
    import http.client

    inst = st.config.app_instances()[0]

    def call(secret, source="127.0.0.1"):
        conn = http.client.HTTPConnection(inst.host.address, inst.port, timeout=5, source_address=(source, 0))
        try:
            conn.request(
                "POST",
                "/messages/inbound/",
                body=b"From: a@example.org\r\n\r\nhi",
                headers={
                    "Authorization": f"Bearer {secret}",
                    "X-Strata-Recipient": "x@localhost",
                    "Host": inst.host.address,
                },
            )
            return conn.getresponse().status
        finally:
            conn.close()

    assert call("wrong") == 401
    assert call(st.secrets["comms_inbound_secret"], source="127.0.0.2") == 404
    assert call(st.secrets["comms_inbound_secret"]) == 404  # right caller, but no such reply address
    # Through nginx (the public entry) it does not exist.
    assert Client(st.url, st.ca).request("POST", "/messages/inbound/", {"x": "y"}).status == 404


def test_only_app_hosts_may_relay_through_postfix(comms_stack):
    st = comms_stack
    with smtplib.SMTP(
        st.config.host_of("comms").address,
        smtp_port(st),
        timeout=10,
        local_hostname="client.test",
        source_address=("127.0.0.2", 0),
    ) as smtp:
        smtp.ehlo()
        smtp.mail("someone@example.org")
        code, text = smtp.rcpt("bob@example.net")
        assert code == 554
        assert b"Relay access denied" in text
        smtp.rset()
        smtp.mail("someone@example.org")
        code, _ = smtp.rcpt("reply+" + "b" * 26 + "@localhost")
        assert code == 250  # replies are accepted from anywhere (then checked by the app)


def test_preference_never_stops_notifications(comms_stack):
    st = comms_stack
    grace = login(st, "grace")
    resp = grace.post("/messages/settings/", {"notify": "never"})
    assert resp.status == 200
    assert 'value="never" checked' in resp.text
    assert grace.post("/messages/settings/", {"notify": "sometimes"}).status == 400
    try:
        ada = login(st, "ada")
        conv = conversation_id(start(ada, "grace", "Quiet please", "no email for this"))
        assert st.call(in_site.notification_count, conv) == 0
        assert "Quiet please" in grace.get("/messages/").text
    finally:
        grace.post("/messages/settings/", {"notify": "immediately"})


def test_password_reset_by_email(comms_stack):
    st = comms_stack
    anon = Client(st.url, st.ca)
    resp = anon.post("/accounts/password/reset/", {"email": "kj@example.org"})
    assert resp.status == 200
    assert "Check your email" in resp.text
    mail = wait_for(
        lambda: outbox_to(st.config.var_dir, "kj@example.org", "Reset your password"), what="reset mail"
    )[0]
    body = mail.message().get_body(("plain",)).get_content()
    link = re.search(r"https://\S+/accounts/password/reset/\S+/\S+/", body).group(0)
    page = anon.get(link)
    assert page.status == 200
    assert "Choose a new password" in page.text
    done = anon.post(
        urllib.parse.urlparse(page.url).path,
        {"new_password1": "a brand new passphrase 7", "new_password2": "a brand new passphrase 7"},
    )
    assert done.status == 200
    assert "Password changed" in done.text
    assert "/accounts/login/" not in Client(st.url, st.ca).login("kj", "a brand new passphrase 7").url
    st.call(in_site.set_password, "kj", "correct horse battery kj")


def test_outbox_cli_lists_the_mail(comms_stack, first_mail, capsys):
    from strata.deploy.cli import main as cli

    st = comms_stack
    assert cli.main(["-c", str(st.config.path), "mail", "outbox"]) == 0
    out = capsys.readouterr().out
    assert f"Outbox — {len(list_outbox(st.config.var_dir))} message(s)" in out
    assert "grace@" in out
    assert cli.main(["-c", str(st.config.path), "mail", "outbox", "--show", "9999"]) == 2
    assert "no message 9999" in capsys.readouterr().err


def test_strata_drill_comms_down(comms_stack, tmp_path):
    result = drill(comms_stack, tmp_path, "comms-down")["comms-down"]
    assert result["measured"]["sent_while_down"] == 0  # held while the mail server was down ...
    assert (result["measured"]["lost"], result["measured"]["duplicated"]) == (0, 0)  # ... then each once
    mailed = [m.subject for m in list_outbox(comms_stack.config.var_dir) if "drill " in m.subject]
    assert len(mailed) == 5
    assert Supervisor(comms_stack.config.var_dir).is_running("comms")
