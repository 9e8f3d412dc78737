"""The ``nas`` command line: one module per sub-command (``nas.cli.cmd_<name>``)."""
