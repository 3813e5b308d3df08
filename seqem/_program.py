"""Whether this process is the ``seqem`` program (the command) rather than a Python
session that imported seqem: set by :func:`seqem.cli.main.main` when it runs without
arguments, read by :mod:`seqem._jit` when the first kernel module loads.  Kept apart
so that setting it imports nothing."""

running = False
