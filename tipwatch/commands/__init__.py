"""Subcommands of `tipwatch` that belong to neither side: the demo, which joins them."""
