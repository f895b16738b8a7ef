"""Integrations with training libraries: ``hptune.integrations.sklearn`` (cross-validation).

Each integration is a submodule imported on its own, so that importing hptune never
imports scikit-learn, PyTorch or Lightning.
"""

from __future__ import annotations

__all__: list[str] = []
