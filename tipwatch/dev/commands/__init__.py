"""Subcommands that need a source checkout: `tipwatch samples`, `tipwatch eval`, `tipwatch bench`."""
