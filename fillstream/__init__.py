"""fillstream, the shell: the ``fillstream`` command (``cli``) and every subcommand and daemon
entry point (``commands``), the local stack (``stack``, ``report``) and the demo. Nothing imports
it; it imports every package below it (see the layers in pyproject.toml)."""
