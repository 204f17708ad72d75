"""`strata up` says what it changed: a second run on a running stack changes nothing (Ansible's
changed_when reads its last line)."""

from __future__ import annotations

import pytest

from strata.deploy import local as deploy
from strata.deploy.cli import main as cli
from tests.support import in_site
from tests.support.tls import served_certificate

pytestmark = pytest.mark.integration


def served_serial(stack) -> int:
    """Return the serial of the certificate the stack's nginx serves for the site's name (verified)."""
    ca = str(stack.config.var_dir / "pki" / "ca.crt")
    port = stack.config.roles["web"]["https_port"]
    return served_certificate("127.0.0.1", port, stack.config.site["domain"], cafile=ca).serial_number


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


def test_a_rotated_secret_and_certificate_restart_only_what_uses_them(stack, capsys):
    """`strata rotate` then `up`: the programs reading the rotated secret (app, comms) and the web server
    with its new certificate are restarted, the others keep running; a second up changes nothing."""
    from strata.deploy.supervisor import Supervisor

    sup = Supervisor(stack.config.var_dir)
    before = {name: sup.pid(name) for name in sup.running_programs()}
    serial = served_serial(stack)
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
    assert served_serial(stack) != serial
    assert deploy.up(stack.config.path).changed == []


def test_up_runs_the_management_commands_again_only_after_a_change(stack):
    """A warm `up` skips migrate and collectstatic while nothing they depend on changed (stamps); a
    database whose migrations table differs is migrated again, a deleted static file collected again."""
    steps: list[str] = []
    deploy.up(stack.config.path)
    deploy.up(stack.config.path, step=steps.append)
    assert "database migrations" not in steps
    static = stack.config.var_dir / "static"
    collected = sorted(p for p in static.rglob("*.css") if p.is_file())[0]
    collected.unlink()
    stack.call(in_site.mark_migration, "strata_test", "0001_probe", True)
    try:
        steps.clear()
        assert deploy.up(stack.config.path, step=steps.append).changed == []
        assert "database migrations" in steps
        assert collected.is_file()
    finally:
        stack.call(in_site.mark_migration, "strata_test", "0001_probe", False)
