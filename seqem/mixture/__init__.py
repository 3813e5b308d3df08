"""Mixture models: Gaussian mixtures fitted by EM."""
