"""Developer tooling: sample rendering, compositing, scoring and benchmark runners.

Not shipped in the wheel (``pyproject.toml`` excludes ``tipwatch.dev*``), so an installed edge box
carries only what it runs; a source checkout (``pip install -e .``, ``deploy/dev.sh``) has it all.
Nothing in ``detector`` or ``evidence_api`` imports it.
"""
