"""Run every notebook's doc tests with nbdev's own runner, each notebook in a fresh process.

    python tools/nbtest.py [--flags "slow gpu"] [--n_workers 2] [PATH ...]

`nbdev_test` runs notebooks in a pool whose worker processes are reused. A notebook re-executes its
`#| export` cells, so it re-registers its module's functions (readers, factories, architectures) under
their names, bound to classes defined in the notebook; a later notebook in the same process then gets
those classes instead of the package's, and `isinstance` checks or `except` clauses can fail depending on
which notebooks happened to share a worker. One process per notebook makes each run independent.

Long runs in the tutorials sit behind a switch a reader flips, `FULL_RUN = False` (Run All in Jupyter knows nothing
of `#| slow`), in cells also marked `#| slow`. With `--flags slow` this runner sets every `FULL_RUN = False` to True
in the notebooks it tests, so the slow tests run those cells for real.
"""
import argparse, multiprocessing, re, sys, time
from pathlib import Path
from nbdev.config import get_config
import nbdev.test
from nbdev.test import test_nb

SWITCH = re.compile(r"^(FULL_RUN\s*=\s*)False\b", re.M)

def flip_switches() -> None:
    "Make nbdev's test runner read every notebook with `FULL_RUN = False` set to True."
    read = nbdev.test.NBProcessor
    def processor(*args, **kwargs):
        proc = read(*args, **kwargs)
        for cell in proc.nb.cells:
            if cell.cell_type == "code": cell.source = SWITCH.sub(r"\1True", cell.source)
        return proc
    nbdev.test.NBProcessor = processor

def _run(args):
    path, skip_flags, force_flags = args
    if "slow" in force_flags: flip_switches()
    start = time.time()
    ok, _ = test_nb(path, skip_flags=skip_flags, force_flags=force_flags, basepath=get_config().config_path)
    return path, ok, time.time() - start

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*", help="notebooks to test (default: every notebook in nbs/)")
    ap.add_argument("--flags", default="", help="space-separated test flags to run (e.g. 'slow')")
    ap.add_argument("--n_workers", type=int, default=2)
    ap.add_argument("--timing", action="store_true", help="print how long each notebook took")
    args = ap.parse_args()
    cfg = get_config()
    paths = [Path(p).absolute() for p in args.paths] or sorted(p.absolute() for p in cfg.nbs_path.rglob("*.ipynb")
                                                              if not any(part.startswith((".", "_")) for part in p.relative_to(cfg.nbs_path).parts))
    skip, force = cfg.tst_flags.split(), args.flags.split()
    with multiprocessing.get_context("spawn").Pool(max(1, args.n_workers), maxtasksperchild=1) as pool:
        results = pool.map(_run, [(p, skip, force) for p in paths], chunksize=1)
    failed = [p for p, ok, _ in results if not ok]
    if args.timing:
        for p, _, secs in sorted(results, key=lambda r: -r[2]): print(f"{p.name}: {secs:.1f}s")
    if failed:
        sys.stderr.write("\nNotebook tests failed:\n\t" + "\n\t".join(p.name for p in failed) + "\n")
        return 1
    print(f"Success: {len(results)} notebooks passed.")
    return 0

if __name__ == "__main__":
    sys.exit(main())
