"""Integrations with training libraries (scikit-learn; PyTorch and Lightning to come)."""
