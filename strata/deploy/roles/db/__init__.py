"""The db role: a private PostgreSQL 15 instance, run as the `postgres` user.

spec.py: its options, ports, links and packages (light). client.py: its protocol client and health probe
(no deployer machinery). role.py: the Role the deployer runs.
"""
