"""cli: the only layer that composes the others: parsers, subcommands, daemonizing, the dry run."""
