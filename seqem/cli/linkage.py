"""``seqem linkage``: pedigree checks and parametric LOD scores.

``check`` reads a data set and reports structural problems (missing or
mis-sexed parents, self-ancestry, disconnected persons, loops) and Mendelian
inconsistencies per marker and family; ``lod`` computes multipoint (or
two-point) parametric LOD and HLOD scores by the Lander-Green algorithm.
"""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING, Any

from ..errors import SeqemError
from ._common import (
    COMMANDS,
    add_run_options,
    check_output_path,
    examples,
    finite_float,
    nonnegative_float,
    positive_float,
    positive_int,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..linkage.data import LinkageData
    from ._common import RunContext

LOD_COLUMNS = ("chrom", "cm", "lod", "hlod", "alpha")
EXAMPLE = (
    "--ped data/example_pedigree.ped --dat data/example_pedigree.dat "
    "--map data/example_pedigree.map"
)


# -- argument types (stricter than those every command shares) ---------------


def open_probability(text: str) -> float:
    """argparse type: a number strictly between 0 and 1."""
    value = finite_float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number > 0 and < 1, got {text!r}")
    return value


def error_rate(text: str) -> float:
    """argparse type: a number in [0, 1)."""
    value = finite_float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0 and < 1, got {text!r}")
    return value


def _numbers(text: str, what: str) -> list[float]:
    items = text.split(",")
    if not text.strip() or any(not x.strip() for x in items):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated {what} without empty items, got {text!r}"
        )
    try:
        return [finite_float(x.strip()) for x in items]
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc} in {text!r}") from None


def penetrance_list(text: str) -> list[float]:
    """argparse type: ``F0,F1,F2``, three probabilities."""
    values = _numbers(text, "probabilities")
    if len(values) != 3 or not all(0.0 <= v <= 1.0 for v in values):
        raise argparse.ArgumentTypeError(
            f"expected three probabilities F0,F1,F2 (P(affected | 0, 1, 2 disease alleles)), "
            f"got {text!r}"
        )
    return values


def theta_list(text: str) -> list[float]:
    """argparse type: comma-separated recombination fractions in [0, 0.5]."""
    values = _numbers(text, "recombination fractions")
    bad = [v for v in values if not 0.0 <= v <= 0.5]
    if bad:
        raise argparse.ArgumentTypeError(
            f"recombination fractions are in [0, 0.5], got {bad[0]:g} in {text!r}"
        )
    return values


def position_list(text: str) -> list[float]:
    """argparse type: comma-separated positions in cM."""
    return _numbers(text, "positions (cM)")


#: Most trait positions one chromosome's grid may have.
MAX_GRID = 1_000_000


def register(commands: Any) -> None:
    group = commands.add_parser(
        "linkage",
        help=COMMANDS["linkage"],
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
    _add_npl(verbs)
    _add_map(verbs)
    group.set_defaults(_parser=group)


def _add_inputs(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input (MERLIN set, or LINKAGE pedfile + datafile)")
    g.add_argument("--ped", metavar="F.ped", help="MERLIN pedigree file")
    g.add_argument("--dat", metavar="F.dat", help="MERLIN data file")
    g.add_argument("--map", metavar="F.map",
                   help="MERLIN map (CHROMOSOME MARKER POSITION, cM; autosomes only); needed "
                   "by multipoint lod and npl with --ped")  # fmt: skip
    g.add_argument("--freq", metavar="F.freq",
                   help="allele frequencies; markers not in it (or all, without it) get "
                   "frequencies counted in the typed founders, as in MERLIN (logged)")  # fmt: skip
    g.add_argument("--model", metavar="F.model",
                   help="disease model (MERLIN .model: TRAIT FREQ F0,F1,F2 [LABEL], one line "
                   "per affection trait of the .dat; with --fam one line, for PHENO)")  # fmt: skip
    g.add_argument("--linkage-ped", metavar="PEDFILE", help="LINKAGE pedfile (pre/post-makeped)")
    g.add_argument("--linkage-dat", metavar="DATAFILE", help="LINKAGE datafile")
    g.add_argument("--fam", metavar="F.fam", help="PLINK .fam (pedigrees, affection in PHENO)")
    g.add_argument("--vcf", metavar="F.vcf.gz", help="genotypes for --fam, by sample = IID")
    g.add_argument("--region", metavar="CHR:START-END", help="SNPs of --vcf in this region")
    g.add_argument("--cm-per-mb", type=positive_float, default=1.0, metavar="X",
                   help="--vcf SNPs without --map: X cM per Mb (default: %(default)s)")  # fmt: skip
    g.add_argument("--trait", metavar="NAME", help="affection trait to analyse (default: first)")
    g = p.add_argument_group("checks")
    g.add_argument("--allow-loops", action="store_true",
                   help="accept marriage and inbreeding loops (handled exactly)")  # fmt: skip
    g.add_argument("--zero-mendelian", action="store_true",
                   help="set a family's genotypes at a marker to missing where they are "
                   "inconsistent with the pedigree (logged), instead of stopping")  # fmt: skip


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("disease model (overrides the model file)")
    g.add_argument("--preset", choices=("dominant", "recessive"),
                   help="rare dominant (0.0001,1,1) or recessive (0.0001,0.0001,1)")  # fmt: skip
    g.add_argument("--disease-freq", type=open_probability, metavar="Q",
                   help="disease allele frequency (default with --preset: 0.0001)")  # fmt: skip
    g.add_argument("--penetrance", type=penetrance_list, metavar="F0,F1,F2",
                   help="P(affected | 0, 1, 2 disease alleles)")  # fmt: skip


def _add_positions(p: argparse.ArgumentParser) -> Any:
    """The trait-position grid options of ``lod`` and ``npl``; returns their group."""
    g = p.add_argument_group("positions")
    g.add_argument("--step", type=positive_float, default=1.0, metavar="CM",
                   help="grid step in cM (default: %(default)s)")  # fmt: skip
    g.add_argument("--positions", type=position_list, metavar="CM,CM,...",
                   help="explicit positions (cM) instead")  # fmt: skip
    g.add_argument("--flank", type=nonnegative_float, default=0.0, metavar="CM",
                   help="extend the grid this far beyond the first and last marker")  # fmt: skip
    g.add_argument("--map-function", choices=("haldane", "kosambi"), default="haldane",
                   help="cM to recombination fraction (default: %(default)s)")  # fmt: skip
    return g


def _by_chrom(data: LinkageData) -> dict[str, list[int]]:
    """Marker indices per chromosome, in map order."""
    chroms: dict[str, list[int]] = {}
    for i, m in enumerate(data.markers):
        chroms.setdefault(m.chrom or "1", []).append(i)
    return chroms


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
    g = _add_positions(p)
    g.add_argument("--twopoint", type=theta_list, metavar="THETAS",
                   help="two-point LODs against each marker at these recombination "
                   "fractions (comma-separated, in [0, 0.5]; no map needed)")  # fmt: skip
    p.add_argument("-o", "--output", default="-", metavar="LOD.tsv", help="TSV (default: stdout)")
    p.add_argument("--per-family", metavar="FAM.tsv", help="each family's LOD at each position")
    p.add_argument("--plot", metavar="FILE.png", help="LOD and HLOD curves (png, pdf or svg)")
    p.add_argument("--max-bits", type=positive_int, default=24, metavar="B",
                   help="largest family (2n - f bits) analysed (default: %(default)s)")  # fmt: skip
    add_run_options(p)
    p.set_defaults(_run=_cmd_lod)


def _add_npl(verbs: Any) -> None:
    p = verbs.add_parser(
        "npl",
        help="nonparametric linkage: NPL scores and Kong-Cox LODs",
        description="Nonparametric linkage of the affected persons: at each position, the "
        "posterior mean of the standardised S_all (or S_pairs) score of every family given "
        "all markers, summed over families with two or more affected persons and divided by "
        "the square root of their number (NPL, one-sided normal p-value), and the Kong and "
        "Cox linear-model LOD with its p-value. No disease model is needed.",
        epilog=examples(
            "seqem linkage npl " + EXAMPLE + " --freq data/example_pedigree.freq "
            "--step 2 -o npl.tsv --per-family npl_families.tsv",
            "seqem linkage npl " + EXAMPLE + " --statistic pairs -o npl_pairs.tsv",
        ),
    )
    _add_inputs(p)
    p.add_argument("--statistic", choices=("all", "pairs"), default="all",
                   help="S_all (Whittemore-Halpern) or S_pairs (default: %(default)s)")  # fmt: skip
    _add_positions(p)
    p.add_argument("-o", "--output", default="-", metavar="NPL.tsv", help="TSV (default: stdout)")
    p.add_argument("--per-family", metavar="FAM.tsv", help="each family's score at each position")
    p.add_argument("--max-bits", type=positive_int, default=24, metavar="B",
                   help="largest family (2n - f bits) analysed (default: %(default)s)")  # fmt: skip
    add_run_options(p)
    p.set_defaults(_run=_cmd_npl)


def _add_map(verbs: Any) -> None:
    p = verbs.add_parser(
        "map",
        help="genetic map (recombination fractions) by EM",
        description="Maximum-likelihood recombination fractions between adjacent markers of "
        "each chromosome by EM over inheritance vectors (expected recombinations from the "
        "two-locus posteriors), started from the input map; written as a map in cM. "
        "Without --map, MERLIN input is taken as one chromosome (1) with the markers in "
        "the order of the .dat file, every interval started at a recombination fraction of "
        "0.1 (and the log says so).",
        epilog=examples(
            "seqem linkage map " + EXAMPLE + " --freq data/example_pedigree.freq -o map.tsv "
            "--report map.json",
            "seqem linkage map " + EXAMPLE + " --sex-specific -o map.tsv",
            "seqem linkage map --cross data/example_cross.csv -o cross_map.tsv",
        ),
    )
    _add_inputs(p)
    g = p.add_argument_group("experimental crosses (instead of pedigrees)")
    g.add_argument("--cross", metavar="CROSS.csv",
                   help="an R/qtl 'csv' cross file (backcross or intercross)")  # fmt: skip
    g.add_argument("--cross-type", choices=("bc", "f2"),
                   help="backcross or intercross (default: from the genotype codes)")  # fmt: skip
    g.add_argument("--error-prob", type=error_rate, default=1e-4, metavar="E",
                   help="genotyping error rate (default: %(default)s)")  # fmt: skip
    p.add_argument("--map-function", choices=("haldane", "kosambi"), default="haldane",
                   help="cM <-> recombination fraction (default: %(default)s)")  # fmt: skip
    p.add_argument("--sex-specific", action="store_true",
                   help="pedigrees: male and female maps (columns cm_male, cm_female)")  # fmt: skip
    p.add_argument("--tol", type=positive_float, metavar="X",
                   help="pedigrees: stop when ln L rises by less than X (default 1e-7); crosses: "
                   "when every fraction r changes by at most X (r + 100 X), as R/qtl's est.map "
                   "(default 1e-6)")  # fmt: skip
    p.add_argument("--max-iter", type=positive_int, metavar="N",
                   help="EM iterations per chromosome at most (2000; crosses 10000)")  # fmt: skip
    p.add_argument("-o", "--output", default="-", metavar="MAP.tsv", help="TSV (default: stdout)")
    p.add_argument("--max-bits", type=positive_int, default=24, metavar="B",
                   help="largest family (2n - f bits) analysed (default: %(default)s)")  # fmt: skip
    add_run_options(p)
    p.set_defaults(_run=_cmd_map)


def load(
    args: argparse.Namespace, ctx: RunContext, *, prepare: bool = True, positions: str = ""
) -> LinkageData:
    """Read the data set the options name; check it (and zero Mendelian errors if asked).

    ``positions`` names the analysis (say "multipoint LOD scores") when it
    needs the markers' map positions.
    """
    from ..io.pedigree import read_fam_vcf, read_linkage, read_merlin

    merlin = args.ped is not None or args.dat is not None
    linkage = args.linkage_ped is not None or args.linkage_dat is not None
    plink = args.fam is not None or args.vcf is not None
    if merlin + linkage + plink != 1:
        raise SeqemError(
            "give one input set: --ped and --dat (MERLIN), --linkage-ped and --linkage-dat, "
            "or --fam and --vcf"
        )
    if args.region is not None and not plink:
        raise SeqemError("--region selects SNPs of --vcf")
    if merlin:
        if args.ped is None or args.dat is None:
            raise SeqemError("--ped and --dat go together")
        if positions and args.map is None:
            raise SeqemError(
                f"{positions} need the markers' positions: give --map F.map (CHROMOSOME "
                "MARKER POSITION, cM)" + (", or --twopoint THETAS" if args.verb == "lod" else "")
            )
        data = read_merlin(args.ped, args.dat, args.map, args.freq, args.model, trait=args.trait)
        if args.map is None and args.verb == "map":
            data.notes.append(
                f"{args.dat}: no --map: the markers are taken as one chromosome (1) in the "
                "order of the data file, every interval started at a recombination fraction "
                "of 0.1"
            )
    elif linkage:
        if args.linkage_ped is None or args.linkage_dat is None:
            raise SeqemError("--linkage-ped and --linkage-dat go together")
        for name in ("map", "freq", "model"):
            if getattr(args, name) is not None:
                raise SeqemError(f"--{name} belongs to the MERLIN input; the datafile has it")
        data = read_linkage(args.linkage_ped, args.linkage_dat)
        _check_trait_option(args.trait, data, args.linkage_dat, "the datafile's affection locus")
    else:
        if args.fam is None or args.vcf is None:
            raise SeqemError("--fam and --vcf go together")
        if args.freq is not None:
            raise SeqemError("--freq is not read with --fam and --vcf: allele frequencies are "
                             "counted in the typed founders")  # fmt: skip
        data = read_fam_vcf(args.fam, args.vcf, region=args.region, map=args.map,
                            cm_per_mb=args.cm_per_mb)  # fmt: skip
        _check_trait_option(args.trait, data, args.fam, "the PHENO column")
        if getattr(args, "model", None) is not None:
            from ..errors import InputFormatError
            from ..io.pedigree import read_model

            models = read_model(args.model)
            if len(models) != 1:
                raise InputFormatError(
                    f"{len(models)} models ({', '.join(models)}): a .fam has one trait (PHENO); "
                    "give one model line",
                    path=args.model,
                )
            data.trait = next(iter(models.values()))
    n = sum(f.n for f in data.families)
    ctx.info(
        f"{data.source}: {len(data.families)} families, {n} persons, {len(data.markers)} markers"
    )
    for note in data.notes:
        ctx.info(note)
    if data.notes:
        ctx.results.update(notes=list(data.notes))
    if positions and not data.markers:
        raise SeqemError(f"{data.source}: no markers: {positions} need at least one")
    if prepare:
        _prepare(args, ctx, data)
    return data


def _check_trait_option(trait: str | None, data: LinkageData, path: str, what: str) -> None:
    if trait is not None and trait != data.trait_name:
        raise SeqemError(
            f"--trait {trait}: {path} has one affection trait, {what} ({data.trait_name})"
        )


def _prepare(args: argparse.Namespace, ctx: RunContext, data: LinkageData) -> None:
    from ..linkage.data import check_family

    for fam in data.families:
        check_family(fam, data.source, allow_loops=args.allow_loops)
    if args.zero_mendelian:
        problems = [p for p in _inconsistencies(data, args.max_bits) if p[1] != "*"]
        index = {fam.id: f for f, fam in enumerate(data.families)}
        for fam_id, marker, persons, _ in problems:
            f, j = index[fam_id], data.marker_index(marker)
            data.genotypes[f][:, j, :] = 0
            ctx.info(f"family {fam_id}, marker {marker}: genotypes set to missing "
                     f"(Mendelian inconsistency; suspects {persons or 'several'})")  # fmt: skip
        ctx.results.update(zeroed=len(problems))


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
        pen = list(args.penetrance)
    if pen is None:
        if model is None:
            raise SeqemError("--disease-freq needs --preset, --penetrance or a model file")
        if model.penetrance.shape[0] > 1:
            return TraitModel(data.trait_name, float(args.disease_freq), model.penetrance)
        pen = model.penetrance[0].tolist()
    classes = max((int(c.max()) for c in data.liability if c.size), default=1)
    if classes > 1:
        raise SeqemError(
            f"--preset and --penetrance give one liability class, but {data.source} uses "
            f"classes up to {classes}: give the penetrances in the datafile"
        )
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
    data = load(args, ctx, prepare=False)
    for fam in data.families:
        check_family(fam, data.source, allow_loops=args.allow_loops)
    problems = _inconsistencies(data, args.max_bits)
    write_tsv(args.output, ("family", "marker", "persons", "problem"), problems)
    ctx.outputs.append(args.output)
    ctx.results.update(n_problems=len(problems))
    ctx.info(f"seqem linkage check: {len(problems)} problem(s) -> {args.output}")
    return 1 if problems else 0


def _cmd_lod(args: argparse.Namespace, ctx: RunContext) -> int:
    import numpy as np

    from ..io.table import write_tsv
    from ..linkage.lander_green import hlod, multipoint, twopoint

    check_output_path(args.output)
    check_output_path(args.per_family)
    check_output_path(args.plot, plot=True)
    multi = "multipoint LOD scores" if args.twopoint is None else ""
    data = load(args, ctx, positions=multi)
    if not data.markers:
        raise SeqemError(f"{data.source}: no markers to compute LOD scores against")
    model = _model(args, data)
    if not any(np.any(a > 0) for a in data.affection):
        raise SeqemError(
            f"{data.source}: no person has a known affection status (trait {data.trait_name}): "
            "every LOD would be 0"
        )
    if args.twopoint is not None:
        thetas = np.array(args.twopoint)
        rows, fam_rows = [], []
        for m in data.markers:
            lod = twopoint(data, m.name, thetas, model=model, n_threads=args.threads,
                           max_bits=args.max_bits)  # fmt: skip
            h2, a2 = hlod(lod)
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
    chroms = _by_chrom(data)
    rows, fam_rows = [], []
    curves = []
    for chrom, idx in chroms.items():
        cm = np.array([data.markers[i].cm for i in idx])
        positions = _grid(args, cm)
        mp = multipoint(data, positions, model=model, map_name=args.map_function, markers=idx,
                        n_threads=args.threads, max_bits=args.max_bits)  # fmt: skip
        het, alpha = hlod(mp.lod)
        total = mp.total
        for j, x in enumerate(positions):
            rows.append((chrom, f"{x:g}", _f6(total[j]), _f6(het[j]), _f6(alpha[j])))
            fam_rows += [(chrom, f"{x:g}", fam, _f6(mp.lod[f, j]))
                         for f, fam in enumerate(mp.families)]  # fmt: skip
        curves.append((chrom, positions, total, het, cm, [data.markers[i].name for i in idx]))
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


def _grid(args: argparse.Namespace, cm: Any) -> Any:
    import numpy as np

    if args.positions is not None:
        return np.array(args.positions, dtype=float)
    lo, hi = float(cm.min()) - args.flank, float(cm.max()) + args.flank
    n = math.floor((hi - lo) / args.step) + 1
    if n > MAX_GRID:
        raise SeqemError(
            f"--step {args.step:g} gives {n} positions over {hi - lo:g} cM (at most {MAX_GRID}): "
            "take a larger step"
        )
    return np.round(np.arange(lo, hi + args.step * 1e-9, args.step), 10)


def _cmd_npl(args: argparse.Namespace, ctx: RunContext) -> int:
    import numpy as np

    from ..io.table import write_tsv
    from ..linkage.npl import npl

    check_output_path(args.output)
    check_output_path(args.per_family)
    data = load(args, ctx, positions="NPL scores")
    chroms = _by_chrom(data)
    rows, fam_rows = [], []
    n_inf = 0
    for chrom, idx in chroms.items():
        cm = np.array([data.markers[i].cm for i in idx])
        positions = _grid(args, cm)
        res = npl(data, positions, statistic=args.statistic, map_name=args.map_function,
                  markers=idx, n_threads=args.threads, max_bits=args.max_bits)  # fmt: skip
        n_inf = int(res.informative.sum())
        for j, x in enumerate(res.positions):
            rows.append((chrom, f"{x:g}", _f6(res.z[j]), f"{res.p[j]:.4g}", _f6(res.kc_lod[j]),
                         f"{res.kc_p[j]:.4g}"))  # fmt: skip
            fam_rows += [(chrom, f"{x:g}", fam, _f6(res.z_family[f, j]))
                         for f, fam in enumerate(res.families) if res.informative[f]]  # fmt: skip
    write_tsv(args.output, ("chrom", "cm", "npl", "p", "kc_lod", "kc_p"), rows)
    ctx.outputs.append(args.output)
    if args.per_family:
        write_tsv(args.per_family, ("chrom", "cm", "family", "z"), fam_rows)
        ctx.outputs.append(args.per_family)
    best = max(rows, key=lambda r: float(r[2]))
    ctx.results.update(max_npl=float(best[2]), at_chrom=best[0], at_cm=float(best[1]),
                       informative_families=n_inf, statistic=args.statistic)  # fmt: skip
    ctx.info(
        f"seqem linkage npl: {len(rows)} positions, {n_inf} informative families, maximum NPL "
        f"{float(best[2]):.3f} at {best[0]}:{best[1]} cM -> {args.output}"
    )
    return 0


def _cmd_map(args: argparse.Namespace, ctx: RunContext) -> int:
    import numpy as np

    from ..io.table import write_tsv
    from ..linkage.mapping import estimate_recombination

    check_output_path(args.output)
    if args.cross is not None:
        return _cross_map(args, ctx)
    data = load(args, ctx)
    if not data.markers:
        raise SeqemError(f"{data.source}: no markers to map")
    from ..linkage.data import map_functions

    to_theta, to_cm = map_functions(args.map_function)
    chroms = _by_chrom(data)
    rows: list[tuple] = []
    total = 0.0
    per_chrom = {}
    for chrom, idx in chroms.items():
        names = [data.markers[i].name for i in idx]
        cm = np.array([data.markers[i].cm for i in idx])
        if len(idx) < 2:
            rows.append(_map_row(chrom, names[0], cm[0], cm[0], args.sex_specific))
            continue
        if np.any(~np.isfinite(cm)):
            start = np.full(len(idx) - 1, 0.1)
        else:
            start = np.clip(to_theta(np.diff(cm)), 0.01, 0.45)
        fit = estimate_recombination(
            data, names, start, sex_specific=args.sex_specific,
            tol=1e-7 if args.tol is None else args.tol,
            max_iter=2000 if args.max_iter is None else args.max_iter,
            n_threads=args.threads, max_bits=args.max_bits,
        )  # fmt: skip
        total += fit.loglik
        first = float(cm[0]) if np.isfinite(cm[0]) else 0.0
        if args.sex_specific:
            male = first + np.concatenate([[0.0], np.cumsum(to_cm(fit.thetas[:, 0]))])
            female = first + np.concatenate([[0.0], np.cumsum(to_cm(fit.thetas[:, 1]))])
            avg = first + np.concatenate([[0.0], np.cumsum(to_cm(fit.thetas.mean(axis=1)))])
            for k, name in enumerate(names):
                rows.append((chrom, name, f"{avg[k]:.6f}", f"{male[k]:.6f}", f"{female[k]:.6f}"))
        else:
            pos = first + np.concatenate([[0.0], np.cumsum(to_cm(fit.thetas))])
            rows += [(chrom, name, f"{pos[k]:.6f}") for k, name in enumerate(names)]
        per_chrom[chrom] = {
            "loglik": fit.loglik, "n_iter": fit.fit.n_iter, "converged": fit.fit.converged,
        }  # fmt: skip
        ctx.fit_results[f"chrom {chrom}"] = fit.fit
    header = ("chrom", "marker", "cm") + (("cm_male", "cm_female") if args.sex_specific else ())
    write_tsv(args.output, header, rows)
    ctx.outputs.append(args.output)
    ctx.results.update(loglik=total, chromosomes=per_chrom)
    ctx.info(f"seqem linkage map: {len(rows)} markers, ln L {total:.6f} -> {args.output}")
    return 0


def _cross_map(args: argparse.Namespace, ctx: RunContext) -> int:
    import numpy as np

    from ..io.rqtl import read_cross
    from ..io.table import write_tsv
    from ..linkage.cross import estimate_map

    for name in ("ped", "dat", "linkage_ped", "linkage_dat"):
        if getattr(args, name) is not None:
            raise SeqemError("--cross takes no pedigree files")
    if args.sex_specific:
        raise SeqemError("--sex-specific is for pedigrees")
    cross = read_cross(args.cross, args.cross_type)
    for chrom in cross.chromosomes:
        empty = np.flatnonzero(~np.any(chrom.genotypes != 0, axis=0))
        if empty.size:
            raise SeqemError(
                f"{args.cross}: marker {chrom.markers[empty[0]]} (chromosome {chrom.name}) has "
                "no typed individual: its position cannot be estimated; drop its column"
            )
    try:
        maps = estimate_map(
            cross, error_prob=args.error_prob, map_function=args.map_function,
            tol=1e-6 if args.tol is None else args.tol,
            max_iter=10000 if args.max_iter is None else args.max_iter,
        )  # fmt: skip
    except ValueError as exc:
        raise SeqemError(str(exc)) from None
    rows = [
        (m.chrom, name, f"{cm:.6f}") for m in maps for name, cm in zip(m.markers, m.cm, strict=True)
    ]
    write_tsv(args.output, ("chrom", "marker", "cm"), rows)
    ctx.outputs.append(args.output)
    total = float(sum(m.loglik for m in maps))
    ctx.results.update(
        loglik=total,
        chromosomes={m.chrom: {"loglik": m.loglik, "n_iter": m.n_iter, "converged": m.converged}
                     for m in maps},
    )  # fmt: skip
    ctx.info(
        f"seqem linkage map: {len(maps)} chromosomes, {len(rows)} markers, ln L {total:.6f} "
        f"-> {args.output}"
    )
    return 0


def _map_row(chrom: str, name: str, cm: float, _: float, sexed: bool) -> tuple:
    value = f"{cm:.6f}" if cm == cm else "0.000000"
    return (chrom, name, value) + ((value, value) if sexed else ())
