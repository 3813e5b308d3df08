"""``seqem linkage``: pedigree checks and parametric LOD scores.

``check`` reads a data set and reports structural problems (missing or
mis-sexed parents, self-ancestry, disconnected persons, loops) and Mendelian
inconsistencies per marker and family; ``lod`` computes multipoint (or
two-point) parametric LOD and HLOD scores by the Lander-Green algorithm.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..errors import SeqemError
from ._common import add_run_options, check_output_path, examples, positive_int

if TYPE_CHECKING:  # pragma: no cover
    from ..linkage.data import LinkageData
    from ._common import RunContext

LOD_COLUMNS = ("chrom", "cm", "lod", "hlod", "alpha")
EXAMPLE = (
    "--ped data/example_pedigree.ped --dat data/example_pedigree.dat "
    "--map data/example_pedigree.map"
)


def register(commands: Any) -> None:
    group = commands.add_parser(
        "linkage",
        help="pedigree linkage: check data, parametric LOD/HLOD scores",
        description="Linkage analysis of pedigrees by the Lander-Green algorithm.",
        epilog=examples(
            "seqem linkage check " + EXAMPLE,
            "seqem linkage lod " + EXAMPLE + " "
            "--freq data/example_pedigree.freq --model data/example_pedigree.model -o lod.tsv",
        ),
    )
    verbs = group.add_subparsers(dest="verb", metavar="VERB", title="verbs")
    _add_check(verbs)
    _add_lod(verbs)
    group.set_defaults(_parser=group)


def _add_inputs(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input (MERLIN set, or LINKAGE pedfile + datafile)")
    g.add_argument("--ped", metavar="F.ped", help="MERLIN pedigree file")
    g.add_argument("--dat", metavar="F.dat", help="MERLIN data file")
    g.add_argument("--map", metavar="F.map", help="MERLIN map (CHROMOSOME MARKER POSITION, cM)")
    g.add_argument("--freq", metavar="F.freq", help="allele frequencies (default: from founders)")
    g.add_argument("--model", metavar="F.model", help="disease model (MERLIN .model)")
    g.add_argument("--linkage-ped", metavar="PEDFILE", help="LINKAGE pedfile (pre/post-makeped)")
    g.add_argument("--linkage-dat", metavar="DATAFILE", help="LINKAGE datafile")
    g.add_argument("--trait", metavar="NAME", help="affection trait to analyse (default: first)")


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("disease model (overrides the model file)")
    g.add_argument("--preset", choices=("dominant", "recessive"),
                   help="rare dominant (0.0001,1,1) or recessive (0.0001,0.0001,1)")  # fmt: skip
    g.add_argument("--disease-freq", type=float, metavar="Q",
                   help="disease allele frequency (default with --preset: 0.0001)")  # fmt: skip
    g.add_argument("--penetrance", metavar="F0,F1,F2",
                   help="P(affected | 0, 1, 2 disease alleles)")  # fmt: skip


def _add_check(verbs: Any) -> None:
    p = verbs.add_parser(
        "check",
        help="report pedigree errors and Mendelian inconsistencies",
        description="Check a pedigree data set: structure (parents, sexes, self-ancestry, "
        "connectedness, loops) and Mendelian consistency of every marker in every family. "
        "Writes one TSV line per inconsistent family and marker (with the persons whose "
        "genotypes, removed alone, make it consistent); exit status 1 if any problem is found.",
        epilog=examples("seqem linkage check " + EXAMPLE + " -o errors.tsv"),
    )
    _add_inputs(p)
    p.add_argument("-o", "--output", default="-", metavar="ERRORS.tsv",
                   help="problems as TSV (default: stdout)")  # fmt: skip
    p.add_argument("--allow-loops", action="store_true", help="accept pedigrees with loops")
    p.add_argument("--max-bits", type=positive_int, default=24, metavar="B",
                   help="largest family checked (default: %(default)s)")  # fmt: skip
    add_run_options(p)
    p.set_defaults(_run=_cmd_check)


def _add_lod(verbs: Any) -> None:
    p = verbs.add_parser(
        "lod",
        help="multipoint or two-point parametric LOD and HLOD scores",
        description="Parametric LOD scores of an affection trait: multipoint along each "
        "chromosome's markers (the trait inserted at every position of a grid) or, with "
        "--twopoint, against each marker at given recombination fractions. HLOD maximises "
        "sum_f log10(alpha 10^LOD_f + 1 - alpha) over the share alpha of linked families.",
        epilog=examples(
            "seqem linkage lod " + EXAMPLE + " "
            "--freq data/example_pedigree.freq --model data/example_pedigree.model "
            "-o lod.tsv --per-family families.tsv --plot lod.png",
            "seqem linkage lod --linkage-ped data/example_pedigree_linkage.ped "
            "--linkage-dat data/example_pedigree_linkage.dat --step 2 -o lod.tsv",
            "seqem linkage lod " + EXAMPLE + " "
            "--preset dominant --disease-freq 0.01 --twopoint 0,0.05,0.1,0.2 -o twopoint.tsv",
        ),
    )
    _add_inputs(p)
    _add_model_options(p)
    g = p.add_argument_group("positions")
    g.add_argument("--step", type=float, default=1.0, metavar="CM",
                   help="grid step in cM (default: %(default)s)")  # fmt: skip
    g.add_argument("--positions", metavar="CM,CM,...", help="explicit positions (cM) instead")
    g.add_argument("--flank", type=float, default=0.0, metavar="CM",
                   help="extend the grid this far beyond the first and last marker")  # fmt: skip
    g.add_argument("--map-function", choices=("haldane", "kosambi"), default="haldane",
                   help="cM to recombination fraction (default: %(default)s)")  # fmt: skip
    g.add_argument("--twopoint", metavar="THETAS",
                   help="two-point LODs against each marker at these thetas")  # fmt: skip
    p.add_argument("-o", "--output", default="-", metavar="LOD.tsv", help="TSV (default: stdout)")
    p.add_argument("--per-family", metavar="FAM.tsv", help="each family's LOD at each position")
    p.add_argument("--plot", metavar="FILE.png", help="LOD and HLOD curves (png, pdf or svg)")
    p.add_argument("--max-bits", type=positive_int, default=24, metavar="B",
                   help="largest family (2n - f bits) analysed (default: %(default)s)")  # fmt: skip
    add_run_options(p)
    p.set_defaults(_run=_cmd_lod)


def load(args: argparse.Namespace, ctx: RunContext) -> LinkageData:
    from ..io.pedigree import read_linkage, read_merlin

    merlin = args.ped is not None or args.dat is not None
    linkage = args.linkage_ped is not None or args.linkage_dat is not None
    if merlin == linkage:
        raise SeqemError("give either --ped and --dat (MERLIN) or --linkage-ped and --linkage-dat")
    if merlin:
        if args.ped is None or args.dat is None:
            raise SeqemError("--ped and --dat go together")
        data = read_merlin(args.ped, args.dat, args.map, args.freq, args.model, trait=args.trait)
    else:
        if args.linkage_ped is None or args.linkage_dat is None:
            raise SeqemError("--linkage-ped and --linkage-dat go together")
        for name in ("map", "freq", "model"):
            if getattr(args, name) is not None:
                raise SeqemError(f"--{name} belongs to the MERLIN input; the datafile has it")
        data = read_linkage(args.linkage_ped, args.linkage_dat)
    n = sum(f.n for f in data.families)
    ctx.info(
        f"{data.source}: {len(data.families)} families, {n} persons, {len(data.markers)} markers"
    )
    return data


def _model(args: argparse.Namespace, data: LinkageData) -> Any:
    import numpy as np

    from ..linkage.data import TraitModel

    model = data.trait
    if args.preset is None and args.penetrance is None and args.disease_freq is None:
        if model is None:
            raise SeqemError("no disease model: give --model, --preset or --penetrance")
        return model
    pen = None
    if args.preset == "dominant":
        pen = [0.0001, 1.0, 1.0]
    elif args.preset == "recessive":
        pen = [0.0001, 0.0001, 1.0]
    if args.penetrance is not None:
        try:
            pen = [float(x) for x in args.penetrance.split(",")]
        except ValueError:
            raise SeqemError(f"--penetrance {args.penetrance!r}: three numbers") from None
        if len(pen) != 3:
            raise SeqemError("--penetrance needs three values: F0,F1,F2")
    if pen is None:
        if model is None:
            raise SeqemError("--disease-freq needs --preset, --penetrance or a model file")
        pen = model.penetrance[0].tolist()
    q = args.disease_freq
    if q is None:
        q = model.freq if model is not None else 0.0001
    try:
        return TraitModel(data.trait_name, float(q), np.array([pen]))
    except ValueError as exc:
        raise SeqemError(str(exc)) from None


def _inconsistencies(data: LinkageData, max_bits: int) -> list[tuple[str, str, str, str]]:
    """(family, marker, persons, note) for every inconsistent family and marker."""
    import numpy as np

    from ..linkage.lander_green import InheritanceSpace, marker_emission

    out = []
    for f, fam in enumerate(data.families):
        if fam.bits() > max_bits:
            out.append((fam.id, "*", "", f"not checked: {fam.bits()} bits > --max-bits"))
            continue
        space = InheritanceSpace.of(fam, max_bits=max_bits)
        calls = data.genotypes[f]
        for j, m in enumerate(data.markers):
            if float(marker_emission(space, calls[:, j, :], m.freqs, 1).max()) > 0:
                continue
            suspects = []
            for p in np.flatnonzero(calls[:, j, 0] > 0).tolist():
                trial = calls[:, j, :].copy()
                trial[p] = 0
                if float(marker_emission(space, trial, m.freqs, 1).max()) > 0:
                    suspects.append(fam.persons[p])
            note = "Mendelian inconsistency"
            if not suspects:
                note += " (no single person's genotype explains it)"
            out.append((fam.id, m.name, ",".join(suspects), note))
    return out


def _cmd_check(args: argparse.Namespace, ctx: RunContext) -> int:
    from ..io.table import write_tsv
    from ..linkage.data import check_family

    check_output_path(args.output)
    data = load(args, ctx)
    for fam in data.families:
        check_family(fam, data.source, allow_loops=args.allow_loops)
    problems = _inconsistencies(data, args.max_bits)
    write_tsv(args.output, ("family", "marker", "persons", "problem"), problems)
    ctx.outputs.append(args.output)
    ctx.results.update(n_problems=len(problems))
    ctx.info(f"seqem linkage check: {len(problems)} problem(s) -> {args.output}")
    return 1 if problems else 0


def _float_list(text: str, what: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SeqemError(f"{what} {text!r}: comma-separated numbers") from None


def _cmd_lod(args: argparse.Namespace, ctx: RunContext) -> int:
    import numpy as np

    from ..io.table import write_tsv
    from ..linkage.data import check_family
    from ..linkage.lander_green import multipoint, twopoint

    check_output_path(args.output)
    check_output_path(args.per_family)
    check_output_path(args.plot)
    data = load(args, ctx)
    for fam in data.families:
        check_family(fam, data.source, allow_loops=True)
    model = _model(args, data)
    if args.twopoint is not None:
        thetas = np.array(_float_list(args.twopoint, "--twopoint"))
        rows, fam_rows = [], []
        for m in data.markers:
            lod = twopoint(data, m.name, thetas, model=model, n_threads=args.threads,
                           max_bits=args.max_bits)  # fmt: skip
            h2, a2 = _hlod(lod)
            for j, t in enumerate(thetas):
                rows.append((m.name, f"{t:g}", _f6(lod[:, j].sum()), _f6(h2[j]), _f6(a2[j])))
                fam_rows += [(m.name, f"{t:g}", fam.id, _f6(lod[f, j]))
                             for f, fam in enumerate(data.families)]  # fmt: skip
        write_tsv(args.output, ("marker", "theta", "lod", "hlod", "alpha"), rows)
        if args.per_family:
            write_tsv(args.per_family, ("marker", "theta", "family", "lod"), fam_rows)
        best = max(rows, key=lambda r: float(r[2]))
        ctx.results.update(max_lod=float(best[2]), at_marker=best[0], at_theta=float(best[1]))
        ctx.info(f"seqem linkage lod: two-point, best LOD {float(best[2]):.4f} at {best[0]} "
                 f"theta {best[1]} -> {args.output}")  # fmt: skip
        return 0
    chroms: dict[str, list[int]] = {}
    for i, m in enumerate(data.markers):
        chroms.setdefault(m.chrom or "1", []).append(i)
    explicit = _float_list(args.positions, "--positions") if args.positions else None
    if args.step <= 0:
        raise SeqemError("--step must be positive")
    rows, fam_rows = [], []
    curves = []
    for chrom, idx in chroms.items():
        cm = np.array([data.markers[i].cm for i in idx])
        if explicit is not None:
            positions = np.array(explicit)
        else:
            lo, hi = cm.min() - args.flank, cm.max() + args.flank
            positions = np.round(np.arange(lo, hi + args.step * 1e-9, args.step), 10)
        mp = multipoint(data, positions, model=model, map_name=args.map_function, markers=idx,
                        n_threads=args.threads, max_bits=args.max_bits)  # fmt: skip
        hlod, alpha = mp.hlod()
        total = mp.total
        for j, x in enumerate(positions):
            rows.append((chrom, f"{x:g}", _f6(total[j]), _f6(hlod[j]), _f6(alpha[j])))
            fam_rows += [(chrom, f"{x:g}", fam, _f6(mp.lod[f, j]))
                         for f, fam in enumerate(mp.families)]  # fmt: skip
        curves.append((chrom, positions, total, hlod, cm, [data.markers[i].name for i in idx]))
    write_tsv(args.output, LOD_COLUMNS, rows)
    ctx.outputs.append(args.output)
    if args.per_family:
        write_tsv(args.per_family, ("chrom", "cm", "family", "lod"), fam_rows)
        ctx.outputs.append(args.per_family)
    if args.plot:
        from ..plotting import plot_lod, save_figure

        ax = plot_lod(curves)
        save_figure(ax.figure, args.plot)
        ctx.outputs.append(args.plot)
    best = max(rows, key=lambda r: float(r[2]))
    ctx.results.update(
        max_lod=float(best[2]), at_chrom=best[0], at_cm=float(best[1]), n_positions=len(rows)
    )
    ctx.info(
        f"seqem linkage lod: {len(rows)} positions, maximum LOD {float(best[2]):.4f} at "
        f"{best[0]}:{best[1]} cM -> {args.output}"
    )
    return 0


def _f6(x: Any) -> str:
    """A LOD-scale number with six decimals (``-inf`` where the likelihood is zero)."""
    x = float(x)
    return f"{x:.6f}" if x == x and abs(x) != float("inf") else ("-inf" if x < 0 else "NA")


def _hlod(lod: Any) -> tuple[list[float], list[float]]:
    import numpy as np

    from ..linkage.lander_green import Multipoint

    mp = Multipoint(np.zeros(lod.shape[1]), lod, np.zeros(0), np.zeros(0), [])
    h, a = mp.hlod()
    return [float(x) for x in h], [float(x) for x in a]
