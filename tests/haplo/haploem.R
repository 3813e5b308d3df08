# Run haplo.stats' haplo.em on genotype windows and print one line per window.
#
# Usage: Rscript haploem.R OUT.tsv WINDOW.tsv [WINDOW.tsv ...]
# Each WINDOW.tsv has one row per person and one column per SNP: ALT allele
# counts 0/1/2, NA for a missing call, no header.  OUT.tsv gets the columns
# window, seconds, lnlike, n_haplotypes, haplotypes (comma-separated 0/1
# strings, 0 = REF) and frequencies (comma-separated), in the input order.
suppressMessages(library(haplo.stats))
args <- commandArgs(trailingOnly = TRUE)
out <- args[1]
rows <- character(0)
for (path in args[-1]) {
  g <- as.matrix(read.table(path, header = FALSE, na.strings = "NA"))
  # two allele columns per SNP, 1 = REF, 2 = ALT, 0 = missing
  geno <- matrix(0L, nrow(g), 2 * ncol(g))
  for (j in seq_len(ncol(g))) {
    x <- g[, j]
    geno[, 2 * j - 1] <- ifelse(is.na(x), 0L, ifelse(x >= 1, 2L, 1L))
    geno[, 2 * j] <- ifelse(is.na(x), 0L, ifelse(x >= 2, 2L, 1L))
  }
  t0 <- proc.time()[["elapsed"]]
  fit <- haplo.em(geno, miss.val = 0, control = haplo.em.control())
  t1 <- proc.time()[["elapsed"]]
  haps <- apply(fit$haplotype, 1, function(r) paste(as.integer(r) - 1L, collapse = ""))
  rows <- c(rows, paste(basename(path), sprintf("%.3f", t1 - t0), sprintf("%.10f", fit$lnlike),
                        length(haps), paste(haps, collapse = ","),
                        paste(sprintf("%.10g", fit$hap.prob), collapse = ","), sep = "\t"))
}
writeLines(c("window\tseconds\tlnlike\tn_haplotypes\thaplotypes\tfrequencies", rows), out)
