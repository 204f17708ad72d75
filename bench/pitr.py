"""Benchmark point-in-time recovery on one machine: a full pgBackRest backup and a `strata restore --to`
of a database of about 200 MiB, side by side with `strata backup` (pg_dump + manifest) of the same data.

The data: a table of 200 rows of 1 MiB random bytes (incompressible, the worst case for the repository)
in the site's database, written as the superuser. Run as root: .venv/bin/python -m bench.pitr
(writes bench/reports/pitr.md)
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import time
from pathlib import Path

from strata.deploy import local as deploy
from strata.deploy.roles.db.role import ROLE as DB
from tests.support.stack import files_role_toml, running_stack, strata

REPORT = Path(__file__).parent / "reports" / "pitr.md"
ROWS, ROW_BYTES = 200, 1 << 20


def main() -> None:
    with running_stack("strata-bench-pitr-", extra=files_role_toml() + "pitr = true\n") as s:
        repo = deploy.pitr_repo(s.config.path)
        deadline = time.monotonic() + 300
        while not (repo.info() and repo.backups()):
            assert time.monotonic() < deadline, "no first full backup"
            time.sleep(1)
        ctx = s.ctx()
        dbname = s.config.roles["db"]["name"]
        with DB._superuser(ctx, dbname) as conn:
            conn.execute("CREATE TABLE bench_pitr (id int PRIMARY KEY, data bytea NOT NULL)")
            # The site's own user owns it, as it owns every table (pg_dump runs as that user).
            conn.execute(f"ALTER TABLE bench_pitr OWNER TO {s.config.roles['db']['user']}")
            with conn.cursor().copy("COPY bench_pitr (id, data) FROM STDIN") as copy:
                for i in range(ROWS):
                    copy.write_row((i, os.urandom(ROW_BYTES)))
            size = conn.execute("SELECT pg_database_size(%s)", [dbname]).fetchone()[0]
        t0 = time.monotonic()
        made = repo.full_backup()
        full = time.monotonic() - t0
        stored = made["info"]["repository"]["delta"]
        t0 = time.monotonic()
        dump = strata(s, "backup")
        dump_s = time.monotonic() - t0
        assert dump.returncode == 0, dump.stderr
        time.sleep(1.1)
        target = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        time.sleep(1.1)
        with DB._superuser(ctx, dbname) as conn:
            conn.execute("DELETE FROM bench_pitr WHERE id >= %s", [ROWS // 2])
        repo.check()  # the WAL past the target is archived
        t0 = time.monotonic()
        result = deploy.restore_to(s.config.path, target)
        restore = time.monotonic() - t0
        with DB._superuser(ctx, dbname) as conn:
            back = conn.execute("SELECT count(*) FROM bench_pitr").fetchone()[0]
        assert back == ROWS, back

    rows = [
        ("database size (pg_database_size)", f"{size / 2**20:.0f} MiB"),
        ("full pgBackRest backup (zstd, AES-256, to SeaweedFS S3)", f"{full:.1f} s"),
        ("its size in the repository", f"{stored / 2**20:.0f} MiB"),
        ("`strata backup` (pg_dump + objects + manifest + archive check), same data", f"{dump_s:.1f} s"),
        (
            "`strata restore --to` (stop, restore, WAL replay, promote, start app servers)",
            f"{restore:.1f} s",
        ),
        *[(f"… of which {k}", f"{v:.1f} s") for k, v in result.phases.items()],
        ("ratio full backup / `strata backup`", f"{full / dump_s:.2f}"),
    ]
    lines = [
        "# Point-in-time recovery benchmark (one machine)",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({platform.machine()}, "
        f"{os.cpu_count()} cores, shared), by `python -m bench.pitr`. "
        f"The restore checked all {ROWS} rows back.",
        "",
        "| measure | value |",
        "|---|---|",
        *[f"| {a} | {b} |" for a, b in rows],
        "",
    ]
    REPORT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
