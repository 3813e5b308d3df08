"""The EM engine: one fit loop, restarts, SQUAREM, and the fit report."""

from .engine import EMProblem, FitResult, make_seed, run_em

__all__ = ["EMProblem", "FitResult", "make_seed", "run_em"]
