"""Paper reproductions: a paper's own numbers as targets, each with a reproducibility report."""
