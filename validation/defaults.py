"""Defaults of the sweeps, in a module of their own so that the command line can show them
without importing the sweep machinery (pandas, matplotlib)."""

MODES = ("quick", "full")
QUICK_SEEDS = 2
FULL_SEEDS = 5
CPU_MAX_PARAMETERS = 10**6
CUDA_MAX_PARAMETERS = 10**8
DEFAULT_OUT = {"quick": "reports/validation-quick", "full": "reports/validation-full"}
DEFAULT_CALIBRATION_OUT = "reports/calibration"
