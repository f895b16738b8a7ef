"""Quasi-random search (placeholder, being written)."""

from __future__ import annotations

from hptune.samplers.random import RandomSampler

__all__ = ["QMCSampler"]


class QMCSampler(RandomSampler):
    """Placeholder."""
