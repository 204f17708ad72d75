"""Point-in-time recovery's rendered pieces: pgBackRest's config, PostgreSQL's archiving, the db-pitr
program and the pitr S3 identity (the round trip itself is tests/integration/test_pitr.py)."""

from __future__ import annotations

import datetime as dt
import pwd
import re
import socket

import pytest

from strata.deploy.config import parse
from strata.deploy.roles.db import pitr
from strata.deploy.roles.db.role import DbRole
from strata.deploy.roles.files import role as files_role
from strata.deploy.roles.files.spec import names_to_resolve, s3_tls_names
from strata.deploy.supervisor import Supervisor
from strata.deploy.system import DeployError
from tests.unit.test_render import SECRETS, TOPOLOGY, ctx_for, mode

PITR_SECRETS = {
    **SECRETS,
    "s3_app_access_key": "appk",
    "s3_app_secret_key": "apps",
    "s3_backup_access_key": "backupk",
    "s3_backup_secret_key": "backups",
    "s3_admin_access_key": "admink",
    "s3_admin_secret_key": "admins",
    "s3_pitr_access_key": "pitrk",
    "s3_pitr_secret_key": "pitrs",
    "pgbackrest_cipher_pass": "cipher-passphrase",
}


def topology(tmp_path, pitr_on: bool):
    text = TOPOLOGY + f"pitr = {'true' if pitr_on else 'false'}\nretention_days = 7\n"
    path = tmp_path / "strata.toml"
    path.write_text(text)
    return parse(text, path)


def db_ctx(config):
    ctx = ctx_for(config, "data")
    ctx.secrets = PITR_SECRETS
    return ctx


def resolver(answers: dict[str, list[str]]):
    """Return a getaddrinfo that knows only ANSWERS (no lookup leaves the test)."""

    def getaddrinfo(name, port, *args, **kw):
        if name not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0)) for a in answers[name]]

    return getaddrinfo


def test_pitr_on_archives_wal_into_an_encrypted_s3_repository(tmp_path, monkeypatch):
    config = topology(tmp_path, True)
    ctx = db_ctx(config)
    files_address = config.host_of("files").address
    assert names_to_resolve(config, "data") == {"files-s3.team.example": files_address}
    monkeypatch.setattr(socket, "getaddrinfo", resolver({"files-s3.team.example": [files_address]}))
    DbRole().render(ctx)
    pg = (ctx.etc("db") / "postgresql.conf").read_text()
    # No reads of a half-replayed database during a restore.
    assert "hot_standby = off" in pg
    conf = pitr.conf_path(ctx.etc("db"))
    assert "archive_mode = on" in pg
    assert f"archive_command = '/usr/bin/pgbackrest --config={conf} --stanza=strata archive-push %p'" in pg
    assert mode(conf) == 0o600
    assert mode(pitr.pgpass_path(ctx.etc("db"))) == 0o600
    settings = dict(re.findall(r"^([\w-]+)=(.*)$", conf.read_text(), re.M))
    assert settings["repo1-type"] == "s3"
    assert settings["repo1-s3-bucket"] == "strata-pitr"
    assert settings["repo1-s3-key"] == "pitrk"
    assert settings["repo1-cipher-type"] == "aes-256-cbc"
    assert settings["repo1-cipher-pass"] == "cipher-passphrase"
    assert settings["repo1-storage-verify-tls"] == "y"
    assert settings["repo1-retention-full"] == "7"
    # The files host is another machine: pgBackRest connects to the certificate's DNS name.
    assert settings["repo1-storage-host"] == "files-s3.team.example" == settings["repo1-s3-endpoint"]
    assert s3_tls_names(config) == ("files-s3.team.example",)
    programs = {p.name: p for p in DbRole().programs(ctx)}
    assert "schedule" in programs["db-pitr"].command
    ids = {i["name"]: set(i["actions"]) for i in files_role.identities(config, PITR_SECRETS)["identities"]}
    assert ids["strata-pitr"] == {"Read:strata-pitr", "Write:strata-pitr", "List:strata-pitr"}
    assert not any("strata-pitr" in a for name, acts in ids.items() if name != "strata-pitr" for a in acts)


@pytest.mark.parametrize("answers", [{}, {"files-s3.team.example": ["192.0.2.99"]}])
def test_pitr_refuses_a_db_host_that_cannot_reach_the_file_server_by_name(tmp_path, monkeypatch, answers):
    config = topology(tmp_path, True)
    ctx = db_ctx(config)
    monkeypatch.setattr(socket, "getaddrinfo", resolver(answers))
    address = config.host_of("files").address
    with pytest.raises(DeployError, match=rf"files-s3.team.example .*must resolve to {address} .*/etc/hosts"):
        DbRole().render(ctx)
    assert not pitr.conf_path(ctx.etc("db")).exists()
    # Only the db host needs the name, and only while it archives.
    assert names_to_resolve(config, "app1") == {}
    assert names_to_resolve(topology(tmp_path, False), "data") == {}


def test_pitr_off_renders_no_archiving(tmp_path):
    config = topology(tmp_path, False)
    ctx = db_ctx(config)
    DbRole().render(ctx)
    assert "archive_mode = off" in (ctx.etc("db") / "postgresql.conf").read_text()
    assert not pitr.conf_path(ctx.etc("db")).exists()
    assert [p.name for p in DbRole().programs(ctx)] == ["db"]
    names = [i["name"] for i in files_role.identities(config, PITR_SECRETS)["identities"]]
    assert "strata-pitr" not in names


def test_restore_target_is_a_utc_moment():
    assert pitr.parse_target("2026-12-01 10:00") == dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    assert pitr.parse_target(" 2026-12-01 10:00:05 ").second == 5
    for bad in ("yesterday", "2026-13-01 10:00", "2026-12-01"):
        with pytest.raises(pitr.PitrError, match="YYYY-MM-DD HH:MM:SS"):
            pitr.parse_target(bad)


def test_the_file_server_stops_after_postgresql(tmp_path, monkeypatch):
    """A host's supervisor stops the files programs last: PostgreSQL's shutdown archives its last WAL
    segment there first (with the file server stopped beside it, pgBackRest retries for a minute)."""
    # Rendering only: the files service user need not exist yet (`make up` creates it).
    monkeypatch.setattr(pwd, "getpwnam", lambda name: name)
    config = topology(tmp_path, True)
    ctx = db_ctx(config)
    programs = [*DbRole().programs(ctx), *files_role.FilesRole().programs(ctx)]
    sup = Supervisor(tmp_path / "sup")
    sup.render(programs)
    sections = dict(re.findall(r"^\[program:([\w-]+)\]\n((?:.+\n)+)", sup.conf.read_text(), re.M))
    priority = {
        name: int(m.group(1)) if (m := re.search(r"^priority=(\d+)$", body, re.M)) else 999
        for name, body in sections.items()
    }
    assert priority["files"] == priority["files-s3"] < priority["db"] == priority["db-pitr"]
