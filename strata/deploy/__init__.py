"""The deployer: config reader, local up/down, roles, lab, `strata deploy` and the `strata` CLI (cli/).

It runs on the control machine and on each host; the Django site (strata/site and the apps) imports only
its light modules: config, health, and the roles' spec.py and client.py (see [tool.importlinter]).
"""
