"""Haplotype frequencies, phase and linkage disequilibrium from genotypes."""
