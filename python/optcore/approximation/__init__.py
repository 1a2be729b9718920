"""Approximation by deep locally connected vs shallow networks on compositional functions (THEORY.md 5.1)."""
