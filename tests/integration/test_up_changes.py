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
