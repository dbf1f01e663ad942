"""Benchmarks (see README, Performance); a package so one can reuse another's set-up."""
