"""What every command runs on: the JSON-lines protocol, job files, output folders and locks, diagnostics."""
