"""The comms role: a private Postfix instance. Notifications out, replies to them back into the app.

spec.py: its options, ports, links and packages (light). client.py: its protocol client and health probe
(no deployer machinery). role.py: the Role the deployer runs.
"""
