"""The domain role: a private OpenLDAP slapd for people, groups and service accounts.

spec.py: its options, ports, links and packages (light). client.py: its protocol client and health probe
(no deployer machinery). role.py: the Role the deployer runs.
"""
