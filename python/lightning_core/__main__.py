"""``python -m lightning_core <command>`` (also the ``lightning-core`` console script).

Commands: ``bench`` runs the benchmark suites; ``tune`` (the CPU/GPU crossover calibration)
is not implemented yet.
"""
from __future__ import annotations

import sys
from typing import List, Optional

USAGE = """usage: python -m lightning_core <command> [options]

commands:
  bench   run the benchmark suites (python -m lightning_core bench --help)
  tune    calibrate the CPU/GPU crossover and the tuned variants (not implemented yet)
"""


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "bench":
        from .bench.cli import main as bench_main
        return bench_main(rest)
    if command == "tune":
        print("lightning_core tune: not implemented yet", file=sys.stderr)
        return 2
    print(f"lightning_core: unknown command {command!r}\n\n{USAGE}", file=sys.stderr, end="")
    return 2


if __name__ == "__main__":
    sys.exit(main())
