"""Every ``fillstream`` subcommand, one module each, exposing ``parser()`` and ``main(argv)``."""
