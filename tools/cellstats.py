"""Lines per exported cell in each notebook: the layout check that notebooks stay fastcore-sized.

    python tools/cellstats.py [--max-cell N] [NOTEBOOK ...]

Prints, per notebook, the number of exported cells, their mean length and the longest, then the same over
all notebooks. Blank lines and `#|` directives are not counted.
"""
import argparse, json, sys
from pathlib import Path

def exported_cells(path: Path):
    "The source lines of each `#| export`ed code cell of the notebook at `path`."
    for cell in json.loads(path.read_text(encoding="utf8"))["cells"]:
        if cell["cell_type"] != "code": continue
        lines = "".join(cell["source"]).splitlines()
        if not any(l.strip().startswith("#|") and "export" in l for l in lines): continue
        yield [l for l in lines if l.strip() and not l.strip().startswith("#|")]

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--max-cell", type=int, default=0, help="exit 1 if any exported cell is longer than this")
    args = ap.parse_args()
    paths = [Path(p) for p in args.paths] or sorted(Path("nbs").rglob("*.ipynb"))
    total, n, worst = 0, 0, []
    for p in paths:
        sizes = [len(c) for c in exported_cells(p)]
        if not sizes: continue
        total += sum(sizes); n += len(sizes); worst.append((max(sizes), p.name))
        print(f"{p.name:32} {len(sizes):4} cells  mean {sum(sizes)/len(sizes):6.1f}  longest {max(sizes):4}")
    print(f"{'all':32} {n:4} cells  mean {total/max(n,1):6.1f}  longest {max(worst)[0] if worst else 0:4}")
    too_long = [(m, name) for m, name in worst if args.max_cell and m > args.max_cell]
    for m, name in too_long: print(f"too long: {name} has a {m}-line exported cell (limit {args.max_cell})", file=sys.stderr)
    return 1 if too_long else 0

if __name__ == "__main__": sys.exit(main())
