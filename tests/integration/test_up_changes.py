"""`strata up` says what it changed: a second run on a running stack changes nothing (Ansible's
changed_when reads its last line)."""

from __future__ import annotations

import pytest

from strata.deploy import local as deploy
from strata.deploy.cli import main as cli

pytestmark = pytest.mark.integration


def test_up_again_changes_nothing(stack, capsys):
    result = deploy.up(stack.config.path)
    assert result.changed == []
    assert result.admin_password is None
    assert cli.main(["-c", str(stack.config.path), "up"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "unchanged"


def test_up_after_a_program_stopped_says_it_started_it(stack):
    from strata.deploy.supervisor import Supervisor

    sup = Supervisor(stack.config.var_dir)
    name = sorted(p for p in sup.running_programs() if p.startswith("web"))[0]
    sup.stop(name)
    result = deploy.up(stack.config.path)
    assert result.changed == [f"started {name}"]
    assert sup.is_running(name)


def _served_serial(stack) -> int:
    import socket
    import ssl

    from cryptography import x509

    web = stack.config.roles["web"]
    ctx = ssl.create_default_context(cafile=str(stack.config.var_dir / "pki" / "ca.crt"))
    with (
        socket.create_connection(("127.0.0.1", web["https_port"]), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=stack.config.site["domain"]) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der
    return x509.load_der_x509_certificate(der).serial_number


def test_a_rotated_secret_and_certificate_restart_only_what_uses_them(stack, capsys):
    """`strata rotate` then `up`: the programs reading the rotated secret (app, comms) and the web server
    with its new certificate are restarted, the others keep running; a second up changes nothing."""
    from strata.deploy.supervisor import Supervisor

    sup = Supervisor(stack.config.var_dir)
    before = {name: sup.pid(name) for name in sup.running_programs()}
    serial = _served_serial(stack)
    argv = [
        "-c",
        str(stack.config.path),
        "rotate",
        "--secret",
        "comms_inbound_secret",
        "--certificate",
        "web",
    ]
    assert cli.main(argv) == 0
    capsys.readouterr()
    result = deploy.up(stack.config.path)
    after = {name: sup.pid(name) for name in sup.running_programs()}
    assert set(after) == set(before)
    restarted = {name for name in before if after[name] != before[name]}
    assert {n for n in before if n.startswith(("web", "app", "comms"))} <= restarted, restarted
    assert not {n for n in before if n.startswith(("db", "domain", "files"))} & restarted, restarted
    assert {f"started {n}" for n in restarted} <= set(result.changed)
    assert _served_serial(stack) != serial
    assert deploy.up(stack.config.path).changed == []
