"""The ``seqem`` command line: ``seqem <group> <verb> ...``.

Only this package prints or chooses exit codes; the commands call the public
API and the readers in :mod:`seqem.io`.
"""
