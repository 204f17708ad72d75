"""The web role: nginx terminating TLS, serving static files and balancing the app servers.

spec.py: its options, ports, links and packages (light). client.py: its protocol client and health probe
(no deployer machinery). role.py: the Role the deployer runs.
"""
