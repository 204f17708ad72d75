"""Run a host's programs under supervisord (from PyPI), one supervisord per host and var/ tree."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path

from supervisor.xmlrpc import SupervisorTransport

from strata.deploy.render import write
from strata.deploy.roles.base import Program
from strata.deploy.system import DeployError, make_dir


def _esc(value: str | Path) -> str:
    return str(value).replace("%", "%%")


class Supervisor:
    def __init__(self, var: Path, log: Path | None = None):
        """Work on the supervisord of the VAR tree; its programs log under LOG (the site's log_dir, by
        default VAR/log)."""
        self.var = var
        self.log = log or var / "log"
        self.conf = var / "etc" / "supervisord.conf"
        self.sock = var / "run" / "supervisor.sock"
        self.pidfile = var / "run" / "supervisord.pid"
        self.logdir = self.log / "supervisor"

    # -- configuration --------------------------------------------------------------------------
    def render(self, programs: list[Program]) -> bool:
        lines = [
            "; Rendered by Strata. Do not edit: run `make up`.",
            "[unix_http_server]",
            f"file={_esc(self.sock)}",
            "chmod=0700",
            "",
            "[supervisord]",
            f"logfile={_esc(self.logdir / 'supervisord.log')}",
            f"pidfile={_esc(self.pidfile)}",
            f"childlogdir={_esc(self.logdir)}",
            "logfile_maxbytes=10MB",
            "logfile_backups=3",
            "loglevel=info",
            "nodaemon=false",
            "minfds=4096",
            "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "",
            "[supervisorctl]",
            f"serverurl=unix://{_esc(self.sock)}",
            "",
        ]
        for p in programs:
            log = self.log / p.role / f"{p.name}.log"
            env = ",".join(f"{k}={_env_value(p.name, k, v)}" for k, v in sorted(p.environment.items()))
            lines += [
                f"[program:{p.name}]",
                "command=" + " ".join(_esc(_quote(a)) for a in p.command),
                f"directory={_esc(p.directory)}",
                "autostart=false",
                "autorestart=true",
                f"startsecs={p.startsecs}",
                "startretries=3",
                f"stopsignal={p.stopsignal}",
                f"stopwaitsecs={p.stopwaitsecs}",
                "stopasgroup=true",
                "killasgroup=true",
                "redirect_stderr=true",
                f"stdout_logfile={_esc(log)}",
                "stdout_logfile_maxbytes=20MB",
                "stdout_logfile_backups=5",
            ]
            if p.priority != 999:  # supervisord's default, left unwritten
                lines.append(f"priority={p.priority}")
            if p.user:
                lines.append(f"user={p.user}")
            if env:
                lines.append(f"environment={env}")
            lines.append("")
        make_dir(self.logdir)
        make_dir(self.sock.parent)
        return write(self.conf, "\n".join(lines), 0o600)

    # -- control --------------------------------------------------------------------------------
    def rpc(self):
        transport = SupervisorTransport(None, None, f"unix://{self.sock}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def running(self) -> bool:
        if not self.sock.exists():
            return False
        try:
            return self.rpc().getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Fault):
            return False

    def start_daemon(self) -> None:
        """Start supervisord, or make a running one pick up the rendered config."""
        if self.running():
            proc = subprocess.run(
                [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(self.conf), "update"],
                capture_output=True,
                text=True,
                timeout=120,
            )
            if proc.returncode != 0:
                raise DeployError(f"supervisorctl update failed: {proc.stdout.strip()} {proc.stderr.strip()}")
            return
        self.sock.unlink(missing_ok=True)
        proc = subprocess.run(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.conf)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if proc.returncode != 0:
            raise DeployError(f"supervisord did not start: {(proc.stderr or proc.stdout).strip()}")
        deadline = time.monotonic() + 15
        while not self.running():
            if time.monotonic() > deadline:
                raise DeployError(f"supervisord did not answer on {self.sock}")
            time.sleep(0.1)

    def info(self, name: str) -> dict | None:
        try:
            return self.rpc().getProcessInfo(name)
        except xmlrpc.client.Fault:
            return None
        except OSError:
            return None

    def is_running(self, name: str) -> bool:
        info = self.info(name) if self.running() else None
        return bool(info and info["statename"] in ("RUNNING", "STARTING"))

    def running_programs(self) -> set[str]:
        """Names of the programs running (or starting) now; empty when supervisord is not running."""
        if not self.running():
            return set()
        infos = self.rpc().getAllProcessInfo()
        return {p["name"] for p in infos if p["statename"] in ("RUNNING", "STARTING")}

    def start(self, name: str) -> None:
        if self.is_running(name):
            return
        try:
            self.rpc().startProcess(name, True)
        except xmlrpc.client.Fault as exc:
            raise DeployError(f"{name} did not start ({exc.faultString}); {self._last_words(name)}") from None

    def _last_words(self, name: str, lines: int = 5) -> str:
        """Return where NAME's log is and its last LINES lines (why it stopped), for a start error."""
        logs = sorted(self.log.glob(f"*/{name}.log"))
        if not logs:
            return f"see its log under {self.log}"
        tail = logs[0].read_bytes()[-4096:].decode(errors="replace").splitlines()[-lines:]
        said = " | ".join(line.strip()[:300] for line in tail if line.strip())
        return f"its log {logs[0]} ends: {said}" if said else f"its log {logs[0]} is empty"

    def stop(self, name: str) -> None:
        try:
            self.rpc().stopProcess(name, True)
        except xmlrpc.client.Fault as exc:
            if "NOT_RUNNING" not in exc.faultString:
                raise

    def reread(self) -> tuple[list[str], list[str], list[str]]:
        """Read the rendered config again without applying it; return the programs it adds, changes and
        removes (each is applied alone by restart_with_config / remove)."""
        [[added, changed, removed]] = self.rpc().reloadConfig()
        return added, changed, removed

    def restart_with_config(self, name: str) -> None:
        """Stop NAME (gracefully: its stopsignal, stopwaitsecs), make its rendered config the running one,
        start it: `supervisorctl update NAME` for one program, plus a restart when its config is the same."""
        rpc = self.rpc()
        if self.info(name) is not None:
            self.stop(name)
            rpc.removeProcessGroup(name)
        rpc.addProcessGroup(name)
        self.start(name)

    def remove(self, name: str) -> None:
        """Stop NAME and forget it (a program the rendered config no longer has)."""
        self.stop(name)
        self.rpc().removeProcessGroup(name)

    def pid(self, name: str) -> int:
        info = self.info(name)
        return info["pid"] if info else 0

    def shutdown(self, timeout: float = 120) -> bool:
        """Stop every program and supervisord itself; return False when none was running."""
        if not self.running():
            return False
        pid = int(self.pidfile.read_text()) if self.pidfile.exists() else 0
        with contextlib.suppress(OSError, xmlrpc.client.Fault):
            self.rpc().shutdown()
        deadline = time.monotonic() + timeout
        while pid and _alive(pid):
            if time.monotonic() > deadline:
                raise DeployError(f"supervisord (pid {pid}) did not stop within {timeout:.0f}s")
            time.sleep(0.1)
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _env_value(program: str, key: str, value: str) -> str:
    # supervisor splits environment= with a non-POSIX shlex: no escapes, and it strips quote
    # characters from both ends of a value, so a value holding a quote cannot be passed intact.
    if '"' in value or "'" in value:
        raise DeployError(
            f"{program}: environment {key} holds a quote character, which supervisor "
            f"cannot pass: {value!r} (rename the path or file)"
        )
    return '"' + _esc(value) + '"'


def _quote(arg: str) -> str:
    """Quote ARG for supervisor's shlex-based parsing of command=."""
    if arg and all(c.isalnum() or c in "/._-:=,+@" for c in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
