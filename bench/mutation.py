"""`make mutate`'s verdict: the share of mutants the tests kill, per core module.

mutmut (run by `make mutate`) mutates the core modules that own an audit behaviour
(`[tool.mutmut] only_mutate` in pyproject.toml: retry/backoff, freshness and watchdog,
breaker, books, publisher, supervision) and runs the tests that cover each mutated
function. This reads its results (`mutants/**/*.meta`), prints one line per module and the
surviving mutants (`mutmut show NAME` prints one), and exits 1 when a module's kill rate is
below `--min` (default 90 %). A timeout counts as killed (the mutant broke the behaviour
badly enough to hang a test); a mutant no test covers counts as survived.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

#: mutmut's exit codes that mean the tests noticed the mutant
KILLED = {1, 3, 36, -24, 24, 152, 255, 37}
SKIPPED = {34, None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min", type=float, default=90.0, help="required kill rate, percent")
    parser.add_argument("--root", type=Path, default=Path("mutants"))
    args = parser.parse_args(argv)
    killed: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    survivors: dict[str, list[str]] = defaultdict(list)
    for meta in sorted(args.root.rglob("*.py.meta")):
        module = str(meta.relative_to(args.root)).removesuffix(".meta")
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if code in SKIPPED:
                continue
            total[module] += 1
            if code in KILLED:
                killed[module] += 1
            else:
                survivors[module].append(name)
    if not total:
        print("no mutation results: run `make mutate` first", file=sys.stderr)
        return 2
    failing = []
    print(f"{'module':<44} {'mutants':>8} {'killed':>8} {'rate':>7}")
    for module in sorted(total):
        rate = 100.0 * killed[module] / total[module]
        mark = "" if rate >= args.min else "  < min"
        print(f"{module:<44} {total[module]:>8} {killed[module]:>8} {rate:>6.1f}%{mark}")
        if rate < args.min:
            failing.append(module)
    for module, names in sorted(survivors.items()):
        print(f"\nsurvivors in {module}:")
        for name in names:
            print(f"  {name}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
