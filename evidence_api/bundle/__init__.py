"""Court evidence bundles: the format (``format``, ``manifest``), a pure builder (``builder`` and the
modules it puts in order), the offline verifier (``verify``), signing keys.

Nothing is imported here on purpose: ``verify`` (with ``format`` and ``manifest``) must stay importable
with only the standard library and ``cryptography``.
"""
