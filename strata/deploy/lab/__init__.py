"""The lab: every host of a topology in its own network namespace, behind a firewall from the matrix.

topology.py writes the lab's strata.toml and checks its addresses, strata.deploy.firewall (shared with `strata
deploy`) renders each host's nftables policy from strata.deploy.config.LINKS, run.py builds and tears down the
namespaces and starts each host's roles with `strata up` inside its namespace, check.py tries every flow and
probes every role and link from the hosts allowed to make them (probe.py runs inside a namespace). The thin
`strata lab` command is strata/deploy/cli/lab.py.
"""
