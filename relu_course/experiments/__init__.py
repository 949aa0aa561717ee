"""Experiment runners, one module per notebook topic: the loops behind the measurements, so
notebooks stay narrative and the logic is tested."""
