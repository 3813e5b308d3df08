"""Dense hidden Markov models: scaled forward-backward kernels and estimators."""

from .models import CategoricalHMM, GaussianHMM, load_model

__all__ = ["CategoricalHMM", "GaussianHMM", "load_model"]
