"""The `strata` command line: argument parsing and output only; the work is in strata.deploy."""
