"""Extractors: each turns decoded media into signals over time spans."""
