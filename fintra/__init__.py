"""The fintra command: settings, embedded stack, migrations and the CLI."""
