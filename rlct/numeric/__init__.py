"""Numeric estimation of learning coefficients (torch): SGLD-family LLC estimators and oracles."""
