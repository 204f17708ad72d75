"""Stamps of `strata up`'s management commands: what makes them run again."""

from __future__ import annotations

import os

from strata.deploy import stamps


def test_the_code_digest_follows_any_file_of_the_project(tmp_path):
    (tmp_path / "strata" / "files" / "migrations").mkdir(parents=True)
    migration = tmp_path / "strata" / "files" / "migrations" / "0001_initial.py"
    migration.write_text("x = 1\n")
    first = stamps.code_digest.__wrapped__(tmp_path)
    assert stamps.code_digest.__wrapped__(tmp_path) == first
    os.utime(migration, ns=(1, 1))  # an unpacked release's files keep no modification time
    assert stamps.code_digest.__wrapped__(tmp_path) == first
    migration.write_text("x = 2\n")  # the same size, another content
    os.utime(migration, ns=(1, 1))
    assert stamps.code_digest.__wrapped__(tmp_path) != first
    migration.write_text("x = 1\n")
    (tmp_path / "strata" / "files" / "migrations" / "0002_more.py").write_text("")
    assert stamps.code_digest.__wrapped__(tmp_path) != first


def test_a_stamp_is_fresh_only_for_the_inputs_it_was_written_with(tmp_path):
    mark = stamps.Stamp(tmp_path, "local-migrate")
    assert not mark.fresh("a")
    mark.write(stamps.digest(["a", b"b"]))
    assert mark.fresh(stamps.digest(["a", b"b"]))
    assert not mark.fresh(stamps.digest(["a", b"c"]))
    mark.forget()
    assert not mark.fresh(stamps.digest(["a", b"b"]))
