"""The ``seqem`` program's lighter Numba start-up (:func:`seqem._jit.lighter_start`).

It skips two imports that Numba's CPU target makes when the first kernel
loads (SciPy's linear algebra for a BLAS check, cffi for cffi functions).
These tests run fresh interpreters: kernels that call BLAS and LAPACK still
work after it, cffi stays importable, and the program's outputs are those of
the same command run in-process (where the start-up is Numba's own).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "data"

PROBE = """
import sys
from seqem._jit import lighter_start
lighter_start()
import numpy as np
from numba import njit

@njit(cache=False)
def first(x):
    return x.sum()

first(np.ones(3))  # Numba's target is loaded: no SciPy linear algebra yet
print("scipy.linalg" in sys.modules)

@njit(cache=False)
def products(a, b):
    return np.dot(a, b), np.linalg.pinv(a)

a = np.array([[2.0, 1.0], [1.0, 3.0]])
d, p = products(a, a)
assert np.allclose(d, a @ a) and np.allclose(p, np.linalg.pinv(a))
import cffi  # still importable by whatever needs it later

print(cffi.FFI is not None)
"""


def test_blas_lapack_and_cffi_still_work_after_the_lighter_start():
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "True"]


def test_the_program_writes_what_the_in_process_command_writes(tmp_path):
    """``seqem deconv run --se`` (BLAS and LAPACK in its kernels) and ``seqem profile
    search``, as the ``seqem`` program (lighter start) and through ``main(argv)``."""
    from seqem.cli.main import main

    commands = {
        "deconv": ["deconv", "run", str(DATA / "example_bulk.tsv"), "--reference",
                   str(DATA / "example_signature.tsv"), "--se", "{dir}/se.tsv",
                   "-o", "{dir}/p.tsv"],
        "search": ["profile", "search", str(DATA / "example_family.hmm"),
                   str(DATA / "example_db.fa"), "--tblout", "{dir}/t.tbl", "-o", "{dir}/h.tsv"],
    }  # fmt: skip
    for name, argv in commands.items():
        program, inprocess = tmp_path / f"{name}_program", tmp_path / f"{name}_main"
        for where in (program, inprocess):
            where.mkdir()
        words = [w.format(dir=program) for w in argv]
        subprocess.run([sys.executable, "-m", "seqem.cli.main", *words, "-q"], check=True)
        assert main([w.format(dir=inprocess) for w in argv] + ["-q"]) == 0
        for made in sorted(program.iterdir()):
            theirs = (inprocess / made.name).read_text().splitlines()
            ours = made.read_text().splitlines()
            # tblout's header names the command line (the output folder differs)
            assert [x for x in ours if not x.startswith("#")] == [
                x for x in theirs if not x.startswith("#")
            ], made.name
