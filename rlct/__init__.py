"""rlct: exact learning coefficients and a validation suite for LLC estimators."""

__version__ = "0.1.0"
