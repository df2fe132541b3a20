"""Application shell: settings, database engine, command line, embedded runner."""
