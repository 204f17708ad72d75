"""A program that cannot start: `strata up`'s error says why, in the program's own last words."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from strata.deploy.roles.base import Program
from strata.deploy.supervisor import Supervisor
from strata.deploy.system import DeployError

pytestmark = pytest.mark.integration


def test_a_program_that_exits_at_once_is_reported_with_the_end_of_its_log():
    var = Path(tempfile.mkdtemp(prefix="strata-sup-"))
    sup = Supervisor(var)
    try:
        crash = Program("crash", "files", ["/bin/sh", "-c", "echo 'bind: address already in use'; exit 1"])
        fine = Program("fine", "files", ["/bin/sleep", "600"])
        (var / "log" / "files").mkdir(parents=True)  # the role makes its log directory (prepare)
        sup.render([crash, fine])
        sup.start_daemon()
        sup.start("fine")
        assert sup.is_running("fine")
        with pytest.raises(DeployError) as err:
            sup.start("crash")
        message = str(err.value)
        assert message.startswith("crash did not start (SPAWN_ERROR")
        assert str(var / "log" / "files" / "crash.log") in message
        assert "bind: address already in use" in message
    finally:
        sup.shutdown()
        shutil.rmtree(var, ignore_errors=True)
