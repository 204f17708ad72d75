"""The app role: gunicorn running Django, one process per app-server instance.

spec.py: its options, ports, links and packages (light). client.py: its protocol client and health probe
(no deployer machinery). role.py: the Role the deployer runs.
"""
