"""Court evidence bundles: a pure builder (``builder``), the offline verifier (``verify``), signing keys.

Nothing is imported here on purpose: ``verify`` must stay importable with only the standard library
and ``cryptography``.
"""
