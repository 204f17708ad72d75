"""`strata rotate` on the control machine: new secret values, certificates removed to be issued again,
and one line with exit 2 for a wrong argument (nothing changed)."""

from __future__ import annotations

import tomllib

from strata.deploy import config as cfgmod
from strata.deploy import control
from strata.deploy import local as deploy
from strata.deploy.cli import main as cli

TOPOLOGY = """
[site]
domain = "team.example"
[hosts.web]
address = "198.18.7.1"
[hosts.core]
address = "198.18.7.2"
[roles.web]
hosts = ["web"]
[roles.app]
hosts = ["core"]
[roles.db]
hosts = ["core"]
[roles.files]
hosts = ["core"]
"""


def control_machine(tmp_path):
    path = tmp_path / "strata.toml"
    path.write_text(TOPOLOGY)
    config, _ = deploy.init(path)
    control.build_bundles(config, config.var_dir)
    return config


def secrets_of(config) -> dict:
    with config.secrets_path.open("rb") as fh:
        return tomllib.load(fh)


def test_rotate_gives_new_values_and_issues_certificates_again(tmp_path, capsys):
    config = control_machine(tmp_path)
    before = secrets_of(config)
    web_crt = control.bundle_dir(config.var_dir, "web") / "pki" / "web.crt"
    old_cert = web_crt.read_bytes()
    assert (
        cli.main(
            ["-c", str(config.path), "rotate", "--secret", "comms_inbound_secret", "--certificate", "web"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "new value for comms_inbound_secret" in out
    assert "web.crt will be issued again" in out
    after = secrets_of(config)
    assert after["comms_inbound_secret"] != before["comms_inbound_secret"]
    assert {k: v for k, v in after.items() if k != "comms_inbound_secret"} == {
        k: v for k, v in before.items() if k != "comms_inbound_secret"
    }
    assert config.secrets_path.stat().st_mode & 0o777 == 0o600
    assert not web_crt.exists()
    control.build_bundles(config, config.var_dir)
    assert web_crt.exists()
    assert web_crt.read_bytes() != old_cert
    # The host's bundle carries the new secret (the app host reads comms_inbound_secret).
    with (control.bundle_dir(config.var_dir, "core") / "secrets.toml").open("rb") as fh:
        assert tomllib.load(fh)["comms_inbound_secret"] == after["comms_inbound_secret"]


def test_rotate_refuses_what_cannot_be_rotated_and_changes_nothing(tmp_path, capsys):
    config = control_machine(tmp_path)
    before = config.secrets_path.read_bytes()
    for argv, key in (
        (["--secret", "db_superuser_password"], "db_superuser_password"),
        (["--secret", "admin_password"], "admin_password"),
        (["--secret", "nope"], "nope"),
        (["--certificate", "nope"], "nope"),
        (["--secret", "django_secret_key", "--certificate", "nope"], "nope"),
        ([], ""),
    ):
        assert cli.main(["-c", str(config.path), "rotate", *argv]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert key in err
    assert config.secrets_path.read_bytes() == before
    assert (control.bundle_dir(config.var_dir, "web") / "pki" / "web.crt").exists()


def test_rotate_runs_only_on_the_control_machine(tmp_path, capsys):
    config = control_machine(tmp_path)
    (config.var_dir / "pki" / "ca.key").unlink()
    assert cli.main(["-c", str(config.path), "rotate", "--secret", "django_secret_key"]) == 2
    assert "control machine" in capsys.readouterr().err
    assert cfgmod.SECRET_MAKERS  # the rotatable set comes from the secrets' makers
