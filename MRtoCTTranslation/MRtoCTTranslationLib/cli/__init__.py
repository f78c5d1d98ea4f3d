"""The ``mrtoct`` command line: one sub-command per file, all built on the core packages."""
