"""Bulk-expression deconvolution into cell-type proportions with reference signatures."""
