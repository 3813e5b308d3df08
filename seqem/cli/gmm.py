"""``seqem gmm``: Gaussian mixture models of numeric tables.

``fit`` writes a model (JSON), ``predict`` assigns rows to components,
``select`` fits a range of component numbers and covariance types and
writes their BIC/AIC table (mclust-style).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import SeqemError
from ._common import (
    COMMANDS,
    DEFAULT_SEED,
    add_run_options,
    check_output_path,
    column_list,
    examples,
    int_range,
    nonnegative_float,
    nonnegative_int,
    positive_int,
    write_text,
)

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def register(commands: Any) -> None:
    group = commands.add_parser(
        "gmm",
        help=COMMANDS["gmm"],
        description="Gaussian mixture models fitted by EM.",
        epilog=examples(
            "seqem gmm fit data/example_signal.tsv -k 3 --columns x1,x2 -o gmm.json",
            "seqem gmm select data/example_signal.tsv -k 1-5 --columns x1,x2 -o bic.tsv",
        ),
    )
    verbs = group.add_subparsers(dest="verb", metavar="VERB", title="verbs")
    _add_fit(verbs)
    _add_predict(verbs)
    _add_select(verbs)
    group.set_defaults(_parser=group)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("table", metavar="TABLE", help="TSV/CSV with a header row; '-' for stdin")
    p.add_argument(
        "--columns", type=column_list, metavar="A,B", help="columns to use (default: all)"
    )
    g = p.add_argument_group("fitting")
    g.add_argument("--reg-covar", type=nonnegative_float, default=1e-6, metavar="X",
                   help="added to every variance (default: %(default)s)")  # fmt: skip
    g.add_argument("--n-init", type=positive_int, default=1, metavar="N",
                   help="starts; the best lower bound wins (default: %(default)s)")  # fmt: skip
    g.add_argument("--init", choices=("kmeans", "k-means++", "random", "random_from_data"),
                   default="kmeans",
                   help="starting responsibilities (default: %(default)s)")  # fmt: skip
    g.add_argument("--max-iter", type=nonnegative_int, default=100, metavar="N",
                   help="EM iterations per start (default: %(default)s)")  # fmt: skip
    g.add_argument("--tol", type=nonnegative_float, default=1e-3, metavar="X",
                   help="stop when the mean log-likelihood per row rises by less "
                   "(default: %(default)s)")  # fmt: skip
    g.add_argument("--seed", type=nonnegative_int, default=DEFAULT_SEED, metavar="S",
                   help="seed of the starts (default: %(default)s)")  # fmt: skip


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "reg_covar": args.reg_covar,
        "n_init": args.n_init,
        "init_params": args.init,
        "max_iter": args.max_iter,
        "tol": args.tol,
        "random_state": args.seed,
        "n_threads": args.threads,
    }


def _add_fit(verbs: Any) -> None:
    p = verbs.add_parser(
        "fit",
        help="fit a Gaussian mixture to a numeric table (model JSON output)",
        description="Fit a Gaussian mixture with K components to the rows of a table by EM "
        "(scikit-learn's estimator, step for step).",
        epilog=examples(
            "seqem gmm fit data/example_signal.tsv -k 3 --columns x1,x2 -o gmm.json",
            "seqem gmm fit data/example_signal.tsv -k 3 --columns x1,x2 -o gmm.json --plot gmm.png",
        ),
    )
    _add_common(p)
    p.add_argument("-k", "--components", type=positive_int, default=2, metavar="K",
                   help="number of components (default: %(default)s)")  # fmt: skip
    p.add_argument("--covariance-type", choices=COVARIANCE_TYPES, default="full",
                   help="(default: %(default)s)")  # fmt: skip
    p.add_argument("-o", "--output", required=True, metavar="MODEL.json")
    p.add_argument("--plot", metavar="FILE.png",
                   help="the rows coloured by component, with each component's mean and its "
                   "1 and 2 standard-deviation ellipses (one column: a histogram with the "
                   "densities); png, pdf or svg")  # fmt: skip
    p.add_argument("--plot-columns", type=column_list, metavar="A,B",
                   help="the two columns to draw (default: the first two used)")  # fmt: skip
    add_run_options(p)
    p.set_defaults(_run=_cmd_fit)


def _add_predict(verbs: Any) -> None:
    p = verbs.add_parser(
        "predict",
        help="assign rows to the components of a fitted model",
        description="Each row's most probable component, its posterior probabilities "
        "(--proba) and log density, as a TSV.",
        epilog=examples("seqem gmm predict gmm.json data/example_signal.tsv -o labels.tsv"),
    )
    p.add_argument("model", metavar="MODEL.json")
    p.add_argument("table", metavar="TABLE")
    p.add_argument("--proba", action="store_true", help="also write every posterior")
    p.add_argument("-o", "--output", default="-", metavar="LABELS.tsv")
    add_run_options(p, threads=False)
    p.set_defaults(_run=_cmd_predict)


def _add_select(verbs: Any) -> None:
    p = verbs.add_parser(
        "select",
        help="BIC/AIC over numbers of components and covariance types",
        description="Fit every number of components in -k and every covariance type, and "
        "write n_components, covariance_type, loglik, n_parameters, bic, aic, converged "
        "and best (lowest BIC) as a TSV.  A model with at least as many free parameters as "
        "the table has rows is not fitted (it would fit the rows exactly; a note on stderr "
        "says which); a covariance type given twice is fitted once.",
        epilog=examples(
            "seqem gmm select data/example_signal.tsv -k 1-5 --columns x1,x2 -o bic.tsv",
            "seqem gmm select data/example_signal.tsv --columns x1,x2 -o bic.tsv --plot bic.png",
        ),
    )
    _add_common(p)
    p.add_argument("-k", "--components", default="1-6", metavar="A-B",
                   help="range of component numbers (default: %(default)s)")  # fmt: skip
    p.add_argument("--covariance-types", type=column_list, default=list(COVARIANCE_TYPES),
                   metavar="T,U", help="(default: all four)")  # fmt: skip
    p.add_argument("--model", metavar="BEST.json", help="also write the best model")
    p.add_argument("-o", "--output", default="-", metavar="BIC.tsv")
    p.add_argument("--plot", metavar="FILE.png",
                   help="BIC against K, a line per covariance type (png, pdf or svg)")  # fmt: skip
    add_run_options(p)
    p.set_defaults(_run=_cmd_select)


#: What the tables are input of, for messages.
PURPOSE = "Gaussian mixture (GMM)"


def _read(path: str, columns: list[str] | None) -> Any:
    """The table's observations, checked for the mixture (values whose squares overflow)."""
    from ..io.table import read_table
    from ..mixture.gmm import check_data

    obs = read_table(path, columns=columns, purpose=PURPOSE)
    check_data(obs.X, path="<stdin>" if path == "-" else path, columns=obs.columns)
    return obs


def _cmd_fit(args: argparse.Namespace, ctx: Any) -> int:
    from ..mixture.gmm import GaussianMixture, model_document

    check_output_path(args.output)
    check_output_path(args.plot, plot=True)
    obs = _read(args.table, args.columns)
    dims = _plot_dims(args, list(obs.columns))
    gm = GaussianMixture(args.components, covariance_type=args.covariance_type, **_options(args))
    gm.fit(obs.X)
    doc = model_document(gm, list(obs.columns))
    write_text(args.output, json.dumps(doc, indent=1) + "\n")
    ctx.outputs.append(args.output)
    if args.plot:
        from ..plotting import plot_mixture, save_figure

        ax = plot_mixture(gm, obs.X, dims=dims, names=list(obs.columns))
        save_figure(ax.figure, args.plot)
        ctx.outputs.append(args.plot)
    ctx.fit_results["gmm"] = gm.fit_result_.to_dict()
    ctx.results.update(bic=gm.bic(obs.X), aic=gm.aic(obs.X), loglik=gm.score(obs.X) * len(obs.X))
    ctx.info(
        f"seqem gmm fit: K={args.components} ({args.covariance_type}), {len(obs.X)} rows, "
        f"lower bound {gm.lower_bound_:.4f}, {gm.n_iter_} iterations"
        + ("" if gm.converged_ else " (not converged)")
    )
    return 0


def _plot_dims(args: argparse.Namespace, columns: list[str]) -> tuple[int, ...]:
    """The columns ``--plot`` draws, as indices of the columns used."""
    if args.plot_columns is None:
        return (0, 1)[: min(2, len(columns))]
    if args.plot is None:
        raise SeqemError("--plot-columns chooses what --plot draws: give --plot too")
    picked = list(dict.fromkeys(args.plot_columns))
    if len(picked) > 2:
        raise SeqemError(f"--plot-columns: one or two columns, got {len(picked)}")
    missing = [c for c in picked if c not in columns]
    if missing:
        raise SeqemError(
            f"{args.table}: --plot-columns {missing[0]!r} is not a column of the fit "
            f"({', '.join(columns)})"
        )
    return tuple(columns.index(c) for c in picked)


def _cmd_predict(args: argparse.Namespace, ctx: Any) -> int:
    from ..mixture.gmm import load_gmm

    check_output_path(args.output)
    gm, columns = load_gmm(args.model)
    obs = _read(args.table, columns)
    if obs.X.shape[1] != gm.n_features_in_:
        raise SeqemError(
            f"{args.table}: {obs.X.shape[1]} columns but the model {args.model} has "
            f"{gm.n_features_in_} features: choose its columns"
        )
    labels = gm.predict(obs.X)
    logd = gm.score_samples(obs.X)
    head = ["row", "component", "log_density"]
    proba = gm.predict_proba(obs.X) if args.proba else None
    if proba is not None:
        head += [f"p{k}" for k in range(gm.n_components)]
    lines = ["\t".join(head)]
    for i, (lab, ld) in enumerate(zip(labels, logd, strict=True)):
        cells = [str(i + 1), str(int(lab)), f"{ld:.6g}"]
        if proba is not None:
            cells += [f"{p:.6g}" for p in proba[i]]
        lines.append("\t".join(cells))
    write_text(args.output, "\n".join(lines) + "\n")
    ctx.outputs.append(args.output)
    return 0


def _ranges(ks: list[int]) -> str:
    """Numbers as runs: ``[3, 4, 5, 7]`` -> ``3-5,7``."""
    runs: list[list[int]] = []
    for k in ks:
        if runs and k == runs[-1][-1] + 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    return ",".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def _cmd_select(args: argparse.Namespace, ctx: Any) -> int:
    from ..mixture.gmm import model_document, select

    check_output_path(args.output)
    check_output_path(args.model)
    check_output_path(args.plot, plot=True)
    bad = [t for t in args.covariance_types if t not in COVARIANCE_TYPES]
    if bad:
        raise SeqemError(f"--covariance-types: unknown type {bad[0]!r}")
    types = list(dict.fromkeys(args.covariance_types))  # each type once
    first, last = int_range(args.components, "-k")
    ks = list(range(first, last + 1))
    obs = _read(args.table, args.columns)
    n = len(obs.X)
    skipped: list[tuple[int, str]] = []
    rows = select(obs.X, ks, types, skipped=skipped, **_options(args))
    if skipped:
        parts = []
        for ct in types:
            k_out = [k for k, t in skipped if t == ct]
            if k_out:
                parts.append(f"K={_ranges(k_out)} ({ct})")
        why = (
            f"{', '.join(parts)} {'have' if len(skipped) > 1 else 'has'} at least as many free "
            f"parameters as the {n} rows (such a model fits the rows exactly; its BIC means "
            "nothing)"
        )
        if not rows:
            raise SeqemError(f"{args.table}: no model can be fitted: {why}")
        ctx.info(f"seqem gmm select: not fitted: {why}")
        ctx.results.update(skipped=[{"n_components": k, "covariance_type": t} for k, t in skipped])
    best = min(rows, key=lambda r: r["bic"])
    lines = ["n_components\tcovariance_type\tloglik\tn_parameters\tbic\taic\tconverged\tbest"]
    for r in rows:
        lines.append(
            f"{r['n_components']}\t{r['covariance_type']}\t{r['loglik']:.6f}\t"
            f"{r['n_parameters']}\t{r['bic']:.6f}\t{r['aic']:.6f}\t{r['converged']}\t"
            f"{r is best}"
        )
    write_text(args.output, "\n".join(lines) + "\n")
    ctx.outputs.append(args.output)
    if args.model:
        write_text(args.model, json.dumps(model_document(best["model"], list(obs.columns)),
                                          indent=1) + "\n")  # fmt: skip
        ctx.outputs.append(args.model)
    if args.plot:
        from ..plotting import plot_bic, save_figure

        save_figure(plot_bic(rows).figure, args.plot)
        ctx.outputs.append(args.plot)
    keys = ("n_components", "covariance_type", "bic")
    ctx.results.update(best={k: best[k] for k in keys})
    ctx.info(f"seqem gmm select: best by BIC K={best['n_components']} ({best['covariance_type']})")
    return 0
