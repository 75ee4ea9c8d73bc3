"""The engine: everything about connectivity, owned once for every venue."""
