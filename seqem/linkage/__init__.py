"""Pedigree linkage: Lander-Green likelihoods over inheritance vectors, LOD scores."""
