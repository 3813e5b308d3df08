"""Profile hidden Markov models: Plan7 models, HMMER3 files, search, build and training."""
