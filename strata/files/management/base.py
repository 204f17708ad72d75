"""What the files app's admin commands share: bad input is one line on stderr and exit code 2."""

from django.core.management.base import BaseCommand, CommandError


def _no_usage(file=None) -> None:
    return None


class AdminCommand(BaseCommand):
    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # argparse prints the whole usage before its error: one line naming the problem is enough.
        parser.print_usage = _no_usage  # type: ignore[method-assign]  # per-instance override on purpose
        return parser

    def refuse(self, message: str) -> CommandError:
        """Return the error to raise for bad input (exit code 2, as argparse uses)."""
        return CommandError(message, returncode=2)
