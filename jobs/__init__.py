"""Multi-stage jobs composed from the packages: the end-to-end demo and the case-study scenarios."""
