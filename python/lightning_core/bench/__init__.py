"""The benchmark suites of Lightning Core: ``python -m lightning_core bench --help``.

Modules: cases (what runs), timing (how a time is taken), ceilings (the floor of a case),
torch_ref (the PyTorch and NumPy references), runner (rows), report (the artifacts), cli.
"""
from .cli import main  # noqa: F401
