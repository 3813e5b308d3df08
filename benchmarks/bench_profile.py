"""Profile-HMM kernel speed: seqem beside HMMER in the same run.

Usage::

    python benchmarks/bench_profile.py [--data ../shared/data/profile] [--n 2000] [--length 400]

For each tutorial model, scores N random background sequences of length L
in multihit local mode and reports cells (nodes x residues) per second:
seqem's Forward and Viterbi on one and two threads, against HMMER's
``hmmsim --fwd`` (generic Forward), ``hmmsim --fwd --fast`` (SIMD Forward)
and ``hmmsim --vit`` run on the same model with the same N and L (one core;
``hmmsim`` also pays for its own sequence generation, a small share).
Needs Debian's ``hmmer`` package for the HMMER columns.

The filters' rates are shown beside HMMER's SIMD filters: seqem's MSV
beside ``hmmsim --msv --fast``, its fixed-point Viterbi filter beside
``hmmsim --vit --fast``.

``--search`` times whole commands instead (wall time of a subprocess, start-up
included, best of 3): ``seqem profile build`` beside ``hmmbuild --cpu 0`` on
the tutorial alignments; then ``seqem profile search --max MODEL db.fa -E 1e9
-Z 4368 --tblout --domtblout`` beside ``hmmsearch --max`` with the same
options, on ``bench/db.fa`` with the models seqem built, on one thread
(``--threads 1``, ``--cpu 0``) and two (``--threads 2``, ``--cpu 2``); then
both programs' default pipelines (filters on, ``-E 10``) on ``db.fa`` and on
a database of 16 copies of it (22 M residues, the copies renamed); one
query against 300 pressed models beside ``hmmscan``; and the in-process
reading times of that library (text and pressed) and of the large database.  Results are also
written to ``benchmarks/results/bench_profile_search.txt``.  After the ``--max`` table, the floor
of any command with a Numba kernel: a script that imports NumPy and Numba and runs one cached
kernel, as it is and after the ``seqem`` program's lighter start; the fn3 ``--max`` search as
the program and through ``main(argv)`` (Numba's own start); then ``seqem profile align``
beside ``hmmalign`` on the 1,000 simulated Pkinase sequences.

``--windows`` searches a 3 Mb random DNA sequence with 20 copies of MADE1
(emitted by ``hmmemit``) planted in it, with ``--window 0`` (scored whole)
and the default windows, beside ``nhmmer``: wall time, peak memory and the
domains found at i-Evalue <= 1e-3.

``--queries`` times searches from one sequence (wall time, best of 3): ``seqem
profile seqsearch --null2`` beside ``phmmer`` and ``seqem profile iterate --null2``
beside ``jackhmmer`` (at most 5 rounds), each family's first training sequence
(globin, Pkinase, fn3) against ``bench/db.fa`` with ``--tblout``, one and two
threads, then globin and Pkinase against 16 renamed copies of it; the rounds
each program ran are shown.  Results are also written to
``benchmarks/results/bench_profile_queries.txt``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "profile"
RESULTS = REPO / "benchmarks" / "results"


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def hmmsim_rate(model: Path, flags: list[str], n: int, length: int, M: int) -> float:
    exe = shutil.which("hmmsim")
    if exe is None:
        return float("nan")
    cmd = [exe, "--seed", "1", "-L", str(length), "-N", str(n), *flags, str(model)]
    t = best_of(lambda: subprocess.run(cmd, capture_output=True, check=True))
    return M * n * length / t / 1e6


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--length", type=int, default=400)
    ap.add_argument(
        "--train",
        action="store_true",
        help="also train on sim/pkinase_sim_train.fa and score sim/pkinase_sim_test.fa",
    )
    ap.add_argument(
        "--search",
        action="store_true",
        help="time whole build and search commands against hmmbuild and hmmsearch --max",
    )
    ap.add_argument(
        "--library",
        type=int,
        nargs="+",
        default=[300],
        metavar="N",
        help="with --search: sizes of the model libraries searched with one query (default 300)",
    )
    ap.add_argument(
        "--queries",
        action="store_true",
        help="time seqsearch and iterate from one sequence against phmmer and jackhmmer",
    )
    ap.add_argument(
        "--windows",
        action="store_true",
        help="a 3 Mb DNA sequence with MADE1 copies: whole against windows, beside nhmmer",
    )
    args = ap.parse_args(argv)
    if args.windows:
        long_sequence(args.data)
        return
    if args.queries:
        query_commands(args.data)
        return
    if args.search:
        whole_commands(args.data, args.library)
        return

    from seqem.io.hmmer import read_hmmer
    from seqem.profile.search import (
        configure,
        forward_bits,
        msv_bits,
        viterbi_bits,
        viterbi_filter_bits,
    )

    header = (
        f"{'model':<10}{'M':>5}{'hmmsim fwd':>12}{'fwd --fast':>12}{'hmmsim vit':>12}"
        f"{'seqem fwd 1t':>14}{'fwd 2t':>9}{'seqem vit 1t':>14}{'vit 2t':>9}"
        f"{'hmmsim msv --fast':>19}{'seqem msv 1t':>14}{'msv 2t':>9}"
        f"{'hmmsim vit --fast':>19}{'seqem vitf 1t':>15}{'vitf 2t':>9}"
    )
    lines = [
        f"{args.n} random sequences of length {args.length}; million cells per second",
        header,
        "-" * len(header),
    ]
    print("\n".join(lines), flush=True)
    for name in ("fn3", "globins4", "Pkinase"):
        path = args.data / "tutorial" / "models" / f"{name}.hmm"
        (hmm,) = read_hmmer(path)
        prof = configure(hmm)
        rng = np.random.default_rng(1)
        bg = np.asarray(hmm.alphabet.background)
        dsq = rng.choice(bg.size, size=args.n * args.length, p=bg).astype(np.uint8)
        bounds = np.arange(0, dsq.size + 1, args.length, dtype=np.int64)
        forward_bits(prof, dsq[: 2 * args.length], bounds[:3])  # compile / load
        viterbi_bits(prof, dsq[: 2 * args.length], bounds[:3])
        cells = hmm.M * dsq.size / 1e6
        rates = []
        msv_bits(prof, dsq[: 2 * args.length], bounds[:3])
        viterbi_filter_bits(prof, dsq[: 2 * args.length], bounds[:3])
        for fn in (forward_bits, viterbi_bits, msv_bits, viterbi_filter_bits):
            for nt in (1, 2):
                numba.set_num_threads(nt)
                rates.append(cells / best_of(lambda f=fn, p=prof, d=dsq, b=bounds: f(p, d, b)))
        h_fwd = hmmsim_rate(path, ["--fwd"], args.n, args.length, hmm.M)
        h_fast = hmmsim_rate(path, ["--fwd", "--fast"], args.n, args.length, hmm.M)
        h_vit = hmmsim_rate(path, ["--vit"], args.n, args.length, hmm.M)
        h_msv = hmmsim_rate(path, ["--msv", "--fast"], args.n, args.length, hmm.M)
        h_vitf = hmmsim_rate(path, ["--vit", "--fast"], args.n, args.length, hmm.M)
        lines.append(
            f"{name:<10}{hmm.M:>5}{h_fwd:>12.1f}{h_fast:>12.1f}{h_vit:>12.1f}"
            f"{rates[0]:>14.1f}{rates[1]:>9.1f}{rates[2]:>14.1f}{rates[3]:>9.1f}"
            f"{h_msv:>19.1f}{rates[4]:>14.1f}{rates[5]:>9.1f}"
            f"{h_vitf:>19.1f}{rates[6]:>15.1f}{rates[7]:>9.1f}"
        )
        print(lines[-1], flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_profile.txt").write_text("\n".join(lines) + "\n")

    if args.train:
        train_sim(args.data)


def wall(cmd: list[str], repeat: int = 3) -> float:
    """Best wall time of a command (seconds); it must succeed."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def run() -> None:
        subprocess.run(cmd, capture_output=True, check=True, env=env)

    return best_of(run, repeat)


#: Runs a command and prints its peak resident memory (KiB).  A child forked
#: from this benchmark would count the benchmark's own pages as its peak, so
#: the command is started from a small interpreter instead.
_PEAK = (
    "import resource, subprocess, sys\n"
    "quiet = subprocess.DEVNULL\n"
    "subprocess.run(sys.argv[1:], check=True, stdout=quiet, stderr=quiet)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def wall_and_peak(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one run of a command."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, *cmd], capture_output=True, text=True, check=True, env=env
    )
    return time.perf_counter() - start, int(done.stdout.split()[-1]) / 1024


def whole_commands(data: Path, library_sizes: list[int]) -> None:
    """Whole ``build`` and ``search`` commands, seqem beside HMMER, same run."""
    seqem = [sys.executable, "-m", "seqem.cli.main", "profile"]
    hmmbuild, hmmsearch = shutil.which("hmmbuild"), shutil.which("hmmsearch")
    lines = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    if hmmbuild is None or hmmsearch is None:
        say("hmmbuild/hmmsearch not found (Debian package hmmer): HMMER columns are NaN")
    db = data / "bench" / "db.fa"
    nan = float("nan")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        subprocess.run([sys.executable, "-m", "seqem._warm"], capture_output=True, check=True)
        say("wall seconds of the whole command (start-up included), best of 3")
        say(f"{'build':<10}{'seqem':>8}{'hmmbuild':>10}{'ratio':>8}")
        for name in ("fn3", "Pkinase"):
            sto, model = data / "tutorial" / f"{name}.sto", out / f"{name}.hmm"
            t_seqem = wall([*seqem, "build", str(sto), "-o", str(model)])
            t_hmmer = nan
            if hmmbuild is not None:
                t_hmmer = wall([hmmbuild, "--cpu", "0", str(out / "h.hmm"), str(sto)])
            say(f"{name:<10}{t_seqem:>8.2f}{t_hmmer:>10.2f}{t_seqem / t_hmmer:>8.2f}")
        say()
        say(f"search of {db.name}: -E 1e9 -Z 4368 --tblout --domtblout; ratio = seqem / hmmsearch")
        say(f"{'model':<10}{'threads':>8}{'seqem':>8}{'hmmsearch':>11}{'ratio':>8}")
        for name in ("fn3", "Pkinase"):
            model = out / f"{name}.hmm"
            common = ["-E", "1e9", "-Z", "4368", "--tblout", str(out / "t.tbl")]
            common += ["--domtblout", str(out / "t.dtbl")]
            for n in (1, 2):
                cmd = [*seqem, "search", "--max", str(model), str(db), *common]
                cmd += ["-o", str(out / "s.tsv")]
                t_seqem = wall([*cmd, "--threads", str(n)])
                t_hmmer = nan
                if hmmsearch is not None:
                    cpu = ["--cpu", "0" if n == 1 else str(n), "--max", "-o", os.devnull]
                    t_hmmer = wall([hmmsearch, *cpu, *common, str(model), str(db)])
                say(f"{name:<10}{n:>8}{t_seqem:>8.2f}{t_hmmer:>11.2f}{t_seqem / t_hmmer:>8.2f}")
        say(start_up_floor(out))
        say(lighter_start_gain(out / "fn3.hmm", db, out))
        say()
        say(align_commands(data, seqem, out))
        big = out / "db16.fa"
        text = db.read_text()
        with open(big, "w") as f:
            for copy in range(16):
                f.write(text.replace(">", f">c{copy}_"))
        for target, z in ((db, 4368), (big, 16 * 4368)):
            say()
            say(f"default pipelines (filters on) on {target.name}: -E 10 -Z {z} --tblout")
            say(f"{'model':<10}{'threads':>8}{'seqem':>8}{'hmmsearch':>11}{'ratio':>8}")
            for name in ("fn3", "Pkinase"):
                model = out / f"{name}.hmm"
                common = ["-E", "10", "-Z", str(z), "--tblout", str(out / "t.tbl")]
                for n in (1, 2):
                    cmd = [*seqem, "search", str(model), str(target), *common]
                    t_seqem = wall([*cmd, "-o", str(out / "s.tsv"), "--threads", str(n)])
                    t_hmmer = nan
                    if hmmsearch is not None:
                        cpu = ["--cpu", "0" if n == 1 else str(n), "-o", os.devnull]
                        t_hmmer = wall([hmmsearch, *cpu, *common, str(model), str(target)])
                    say(f"{name:<10}{n:>8}{t_seqem:>8.2f}{t_hmmer:>11.2f}{t_seqem / t_hmmer:>8.2f}")
        say()
        say(single_segment_share(out, big))
        huge = out / "db64.fa"
        with open(huge, "w") as f:
            for copy in range(4):
                f.write(big.read_text().replace(">", f">d{copy}_"))
        say()
        say(f"a larger database, {huge.name} ({huge.stat().st_size / 1e6:.0f} MB), default "
            "pipeline, two threads: wall seconds and peak memory (MB), one run")  # fmt: skip
        say(f"{'model':<10}{'seqem':>8}{'MB':>7}{'hmmsearch':>11}{'MB':>7}")
        for name in ("fn3", "Pkinase"):
            model = out / f"{name}.hmm"
            common = ["-E", "10", "--tblout", str(out / "t.tbl")]
            cmd = [*seqem, "search", str(model), str(huge), *common, "-o", str(out / "s.tsv")]
            t_seqem, m_seqem = wall_and_peak([*cmd, "--threads", "2"])
            t_hmmer = m_hmmer = nan
            if hmmsearch is not None:
                t_hmmer, m_hmmer = wall_and_peak(
                    [hmmsearch, "--cpu", "2", "-o", os.devnull, *common, str(model), str(huge)]
                )
            say(f"{name:<10}{t_seqem:>8.2f}{m_seqem:>7.0f}{t_hmmer:>11.2f}{m_hmmer:>7.0f}")
        library = out / "library.hmm"
        for size in sorted(library_sizes, reverse=True):  # the reading times: the smallest
            say()
            say(many_models(data, library, seqem, out, size))
        say()
        say(reading(library, big))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_profile_search.txt").write_text("\n".join(lines) + "\n")


def query_commands(data: Path) -> None:
    """``seqem profile seqsearch``/``iterate`` beside ``phmmer``/``jackhmmer``, same run."""
    seqem = [sys.executable, "-m", "seqem.cli.main", "profile"]
    db = data / "bench" / "db.fa"
    nan = float("nan")
    lines = [f"searches from one sequence against {db.name} (--null2 for seqem, as HMMER's "
             "default), --tblout; wall seconds, best of 3; ratio = seqem / HMMER"]  # fmt: skip
    header = f"{'query':<10}{'command':<22}{'threads':>8}{'seqem':>8}{'HMMER':>8}{'ratio':>8}"
    lines.append(header)
    print("\n".join(lines), flush=True)
    subprocess.run([sys.executable, "-m", "seqem._warm"], capture_output=True, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        big = out / "db16.fa"
        with open(big, "w") as f:
            for copy in range(16):
                f.write(db.read_text().replace(">", f">c{copy}_"))
        cases = [(family, db) for family in ("globin", "Pkinase", "fn3")]
        cases += [(family, big) for family in ("globin", "Pkinase")]
        for family, target in cases:
            if target == big and family == "globin":
                lines.append(f"the same on {big.name}, 16 renamed copies (22 M residues)")
                print(lines[-1], flush=True)
            first = (data / "bench" / family / "train.fa").read_text().split(">")[1]
            query = out / f"{family}.fa"
            query.write_text(">" + first)
            table = ["--tblout", str(out / "t.tbl")]
            for verb, tool, extra in (("seqsearch", "phmmer", []),
                                      ("iterate", "jackhmmer", ["-N", "5"])):  # fmt: skip
                for n in (1, 2):
                    cmd = [*seqem, verb, "--null2", *extra, str(query), str(target), *table]
                    t_seqem = wall([*cmd, "-o", str(out / "s.tsv"), "--threads", str(n)])
                    t_hmmer = nan
                    if shutil.which(tool):
                        cpu = ["--cpu", "0" if n == 1 else str(n), "-o", str(out / "h.out")]
                        t_hmmer = wall([tool, *cpu, *extra, *table, str(query), str(target)])
                    rounds = ""
                    if verb == "iterate" and shutil.which(tool):
                        text = (out / "h.out").read_text()
                        done = text.count("@@ Round:") + 1
                        rounds = f"  (jackhmmer {min(done, 5)} rounds)"
                    lines.append(
                        f"{family:<10}{verb + ' / ' + tool:<22}{n:>8}{t_seqem:>8.2f}"
                        f"{t_hmmer:>8.2f}{t_seqem / t_hmmer:>8.2f}{rounds}"
                    )
                    print(lines[-1], flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_profile_queries.txt").write_text("\n".join(lines) + "\n")


#: The least any command with a Numba kernel pays: the interpreter and NumPy
#: started, Numba imported and one kernel loaded from its cache (which loads
#: Numba's CPU target) and run on three numbers.
_FLOOR_KERNEL = """\
import numba
import numpy as np


@numba.njit(cache=True)
def total(x):
    return x.sum()


total(np.ones(3))
"""


def start_up_floor(out: Path) -> str:
    """Wall time of :data:`_FLOOR_KERNEL` run as a script (its cache filled first), as it
    is and after the ``seqem`` program's :func:`seqem._jit.lighter_start`."""
    lines = []
    for label, prefix in (("", ""),
                          (", lighter start", "from seqem._jit import lighter_start\n"
                                              "lighter_start()\n")):  # fmt: skip
        script = out / "floor_kernel.py"
        script.write_text(prefix + _FLOOR_KERNEL)
        cmd = [sys.executable, str(script)]
        subprocess.run(cmd, check=True)  # compiles and fills the cache
        t = wall(cmd)
        lines.append(f"floor: python + numpy + one cached numba kernel{label} {t:8.2f}")
    return "\n".join(lines)


def lighter_start_gain(model: Path, db: Path, out: Path, repeat: int = 8) -> str:
    """The fn3 ``--max`` search on one thread as the ``seqem`` program (its lighter
    Numba start) and as the same command through ``main(argv)`` in a script
    (Numba's own start), interleaved, best of ``repeat`` each."""
    script = out / "through_main.py"
    script.write_text("import sys\nfrom seqem.cli.main import main\nsys.exit(main(sys.argv[1:]))\n")
    args = ["profile", "search", "--max", str(model), str(db), "-E", "1e9", "-Z", "4368",
            "--tblout", str(out / "t.tbl"), "--domtblout", str(out / "t.dtbl"),
            "-o", str(out / "s.tsv"), "--threads", "1"]  # fmt: skip
    program = [sys.executable, "-m", "seqem.cli.main", *args]
    through = [sys.executable, str(script), *args]
    times: dict[str, list[float]] = {"program": [], "main": []}
    for _ in range(repeat):
        for key, cmd in (("program", program), ("main", through)):
            times[key].append(wall(cmd, repeat=1))
    return (
        f"fn3 --max, one thread: the seqem program {min(times['program']):.2f}, "
        f"through main(argv) {min(times['main']):.2f} (interleaved, best of {repeat})"
    )


def align_commands(data: Path, seqem: list[str], out: Path) -> str:
    """``seqem profile align`` beside ``hmmalign`` (which runs on one thread):
    the 1,000 simulated Pkinase sequences of ``sim/`` to HMMER's Pkinase model."""
    model = data / "tutorial" / "models" / "Pkinase.hmm"
    seqs = data / "sim" / "pkinase_sim_train.fa"
    lines = ["align 1,000 sequences (sim/pkinase_sim_train.fa) to Pkinase.hmm, Stockholm out"]
    for n in (1, 2):
        t = wall([*seqem, "align", str(model), str(seqs), "-o", str(out / "a.sto"),
                  "--threads", str(n)])  # fmt: skip
        lines.append(f"{f'seqem align, {n} thread(s)':<28}{t:>8.2f}")
    hmmalign = shutil.which("hmmalign")
    t_h = float("nan")
    if hmmalign:
        t_h = wall([hmmalign, "-o", str(out / "h.sto"), str(model), str(seqs)])
    lines.append(f"{'hmmalign':<28}{t_h:>8.2f}")
    return "\n".join(lines)


def single_segment_share(out: Path, database: Path) -> str:
    """The share of the database's sequences whose MSV score needs MSV's full
    recurrence, the single best segment not deciding it (``msv_scores(...,
    single=True)`` gives NaN)."""
    from seqem.io.hmmer import read_hmmer
    from seqem.io.sequences import read_sequences
    from seqem.profile import _kernels as K
    from seqem.profile.model import AMINO
    from seqem.profile.search import configure, msv_table

    seqs = read_sequences(database, AMINO)
    lines = [f"share of {database.name} needing MSV's full recurrence (single segment not exact)"]
    for name in ("fn3", "Pkinase"):
        (hmm,) = read_hmmer(out / f"{name}.hmm")
        prof = configure(hmm)
        with np.errstate(divide="ignore"):
            lxt = np.log(prof.specials(seqs.lengths))
        tbm = float(np.log(2.0 / (prof.M * (prof.M + 1.0))))
        raw = K.msv_scores(seqs.codes, seqs.bounds, msv_table(prof), tbm, lxt, True)
        lines.append(f"{name:<10}{np.isnan(raw).mean():>8.4f}")
    return "\n".join(lines)


def reading(library: Path, database: Path) -> str:
    """In-process reading times, best of 3: the pressed library against its
    text, and the FASTA database (after a first read, so the file is cached)."""
    from seqem.io.hmmer import read_hmmer
    from seqem.io.sequences import read_sequences
    from seqem.profile.model import AMINO

    read_sequences(database, AMINO)
    t_fasta = best_of(lambda: read_sequences(database, AMINO))
    t_text = best_of(lambda: read_hmmer(library, pressed=False))
    t_pressed = best_of(lambda: read_hmmer(library))
    n = len(read_hmmer(library))
    return (
        "reading, in-process, best of 3\n"
        f"{f'{n} models, text':<28}{t_text:>8.3f}\n{f'{n} models, pressed':<28}{t_pressed:>8.3f}\n"
        f"{database.name + ' (FASTA)':<28}{t_fasta:>8.3f}"
    )


def many_models(data: Path, library: Path, seqem: list[str], out: Path, size: int) -> str:
    """One query (the sevenless protein, 2,554 residues) against ``size`` models
    (the three tutorial models, renamed copies): ``seqem profile search`` and
    ``seqem profile scan --tblout`` on the pressed library beside ``hmmscan
    --tblout`` on the hmmpress'ed one."""
    import re

    texts = [
        (data / "tutorial" / "models" / f"{n}.hmm").read_text()
        for n in ("fn3", "Pkinase", "globins4")
    ]
    with open(library, "w") as f:
        for i in range(size):
            text = re.sub(r"^(NAME  \S+)", rf"\1_{i}", texts[i % 3], flags=re.M)
            text = re.sub(r"^(ACC   \S+)", rf"\1_{i}", text, flags=re.M)
            f.write(text)
    query = data / "tutorial" / "7LESS_DROME"
    subprocess.run([*seqem, "press", str(library)], capture_output=True, check=True)
    t_seqem = wall([*seqem, "search", str(library), str(query), "-o", str(out / "s.tsv"),
                    "--threads", "1"])  # fmt: skip
    t_scan = wall([*seqem, "scan", str(library), str(query), "-o", str(out / "s.tsv"),
                   "--tblout", str(out / "s.tbl"), "--threads", "1"])  # fmt: skip
    t_hmmer = float("nan")
    hmmpress, hmmscan = shutil.which("hmmpress"), shutil.which("hmmscan")
    if hmmpress and hmmscan:
        subprocess.run([hmmpress, "-f", str(library)], capture_output=True, check=True)
        t_hmmer = wall([hmmscan, "--cpu", "0", "-o", os.devnull, "--tblout", str(out / "h.tbl"),
                        str(library), str(query)])  # fmt: skip
    return (
        f"one query (7LESS_DROME, 2,554 residues) against {size} pressed models, one thread\n"
        f"{'seqem search':<14}{t_seqem:>8.2f}\n{'seqem scan':<14}{t_scan:>8.2f}\n"
        f"{'hmmscan':<14}{t_hmmer:>8.2f}\n{'ratio (scan)':<14}{t_scan / t_hmmer:>8.2f}"
    )


def train_sim(data: Path) -> None:
    """Baum-Welch on 1,000 simulated Pkinase sequences; mean bits on 500 held out."""
    from seqem.io.hmmer import read_hmmer
    from seqem.io.sequences import read_sequences
    from seqem.profile.model import AMINO
    from seqem.profile.search import configure, forward_bits
    from seqem.profile.train import train

    train_seqs = read_sequences(data / "sim" / "pkinase_sim_train.fa", AMINO)
    test_seqs = read_sequences(data / "sim" / "pkinase_sim_test.fa", AMINO)
    (true,) = read_hmmer(data / "tutorial" / "models" / "Pkinase.hmm")
    numba.set_num_threads(2)
    t0 = time.perf_counter()
    result = train(train_seqs.codes, train_seqs.bounds, AMINO, n_init=4, random_state=1)
    elapsed = time.perf_counter() - t0
    score = forward_bits(configure(result.hmm), test_seqs.codes, test_seqs.bounds).mean()
    true_score = forward_bits(configure(true), test_seqs.codes, test_seqs.bounds).mean()
    print(
        f"\ntraining on {train_seqs.n_sequences} simulated sequences (two threads): "
        f"{elapsed:.0f} s, {result.fit.n_iter} iterations, converged {result.fit.converged}, "
        f"M {result.hmm.M}\nmean bits on {test_seqs.n_sequences} held-out sequences: "
        f"trained {score:.1f}, true model {true_score:.1f} (README, hmmsearch: true 96.7, "
        "hmmbuild on the true alignment 93.9, mafft route 53.3, clustalo route 48.2)"
    )


def long_sequence(data: Path, length: int = 3_000_000) -> list[str]:
    """Whole-sequence scoring against windows on one long DNA sequence, beside nhmmer."""
    model = data / "tutorial" / "models" / "MADE1.hmm"
    rng = np.random.default_rng(1)
    seq = rng.choice(list("ACGT"), size=length)
    emitted = subprocess.run(["hmmemit", "-N", "20", "--seed", "4", str(model)],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    for record in emitted.split(">")[1:]:
        copy = "".join(record.split("\n")[1:])
        at = int(rng.integers(0, length - len(copy)))
        seq[at : at + len(copy)] = list(copy)
    lines = [f"MADE1 against one {length:,} bp sequence with 20 planted copies, two threads",
             "run  seconds  peak_MB  domains_at_iE<=1e-3"]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        db, table = Path(tmp) / "chr.fa", Path(tmp) / "d.tbl"
        db.write_text(">chr\n" + "".join(seq) + "\n")
        seqem = [sys.executable, "-m", "seqem", "profile", "search", str(model), str(db),
                 "--threads", "2", "--domtblout", str(table), "-o", os.devnull]  # fmt: skip
        runs = [("seqem --window 0", [*seqem, "--window", "0"]), ("seqem windows", seqem),
                ("nhmmer", ["nhmmer", "--cpu", "2", "--tblout", str(table), "-o", os.devnull,
                            str(model), str(db)])]  # fmt: skip
        for label, cmd in runs:
            seconds, peak = wall_and_peak(cmd)
            # column 13: the domain's i-Evalue (domtblout), the hit's E-value (nhmmer)
            rows = [r.split() for r in table.read_text().splitlines() if not r.startswith("#")]
            found = sum(float(r[12]) <= 1e-3 for r in rows)
            lines.append(f"{label}  {seconds:.2f}  {peak:.0f}  {found}")
            print(lines[-1], flush=True)
    lines.append("command: python benchmarks/bench_profile.py --windows")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_profile_windows.txt").write_text("\n".join(lines) + "\n")
    return lines


if __name__ == "__main__":
    main()
