"""Server roles, one folder each: strata/deploy/roles/<name>/.

Each folder holds spec.py (the role's options, ports, validation, fallback, links, dependencies and Debian
packages: standard library only), client.py (its protocol client and health probe, no deployer machinery:
Django's settings and apps import these), role.py (the Role the deployer runs: prepare -> render ->
validate -> programs -> wait_ready -> after_start) and templates/. This package and each role's
__init__.py stay empty so that importing a spec or a client loads nothing else. Shared modules: spec.py
(RoleSpec), registry.py (every SPEC), probe.py (Health), base.py (Role, HostContext, Program).
"""
