"""Built-in venue plugins. Each subpackage is one venue: adapter and parsers, nothing else."""
