"""The seed spread of `bench_parser.py`: one run per seed, then each score after each epoch as the mean and standard
deviation over the seeds, nlpnb beside spaCy, and their difference.

    .venv/bin/python benchmarks/bench_parser_seeds.py --seeds 0,1,2 [any bench_parser.py option but --seed/--json]
    .venv/bin/python benchmarks/bench_parser_seeds.py --seeds 0,1,2 --tasks parser --group 10 --epochs 5

One seed moves nlpnb's EWT dev UAS by up to a point after epoch 1 and a quarter of a point after epoch 5, as much as
the gaps the accuracy goals are about: compare means over three or more seeds, not single runs. Each seed's full
results go to benchmarks/results/bench_parser_seeds/seedN.json; the summary to benchmarks/results/bench_parser_seeds.json.
A long run (one bench_parser.py run per seed), not a test.
"""
import argparse, json, statistics, subprocess, sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "bench_parser_seeds"
NOT_SCORES = {"train_s", "train_cpu_s", "train_wps", "updates", "eval_s"}   # an epoch's entry: the rest are dev scores

def epoch_scores(res: dict) -> dict:
    "`{(score, epoch): value}` of one library's side of one task."
    return {(k, i + 1): v for i, e in enumerate(res["epochs"]) for k, v in e.items()
            if k not in NOT_SCORES and isinstance(v, (int, float))}

def summarize(runs: list) -> dict:
    "`{task: {lib: {'score after epoch N': (mean, sd, n)}}}` over the seeds' results."
    out: dict = {}
    for task in [t for t in runs[0] if isinstance(runs[0][t], dict) and t not in ("args",)]:
        for lib in ("nlpnb", "spacy"):
            sides = [r[task].get(lib) for r in runs if isinstance(r.get(task), dict) and r[task].get(lib)]
            if not sides: continue
            values: dict = {}
            for side in sides:
                for key, v in epoch_scores(side).items(): values.setdefault(key, []).append(v)
            out.setdefault(task, {})[lib] = {f"{k} after epoch {e}": (statistics.mean(v), statistics.pstdev(v), len(v))
                                             for (k, e), v in sorted(values.items(), key=lambda kv: (kv[0][1], kv[0][0]))}
    return out

def print_summary(summary: dict) -> None:
    for task, libs in summary.items():
        print(f"\n{task}: mean ± sd over seeds (n)")
        print(f"{'':34}{'nlpnb':>20}{'spaCy':>20}{'difference':>12}")
        for key, (m, sd, n) in libs.get("nlpnb", {}).items():
            theirs = libs.get("spacy", {}).get(key)
            right = f"{theirs[0]:9.4f} ± {theirs[1]:.4f}" if theirs else "-"
            diff = f"{m - theirs[0]:+12.4f}" if theirs else ""
            print(f"{key:34}{m:9.4f} ± {sd:.4f} ({n}){right:>20}{diff}")

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds, one bench_parser.py run each")
    args, rest = ap.parse_known_args()
    if any(a.split("=")[0] in ("--seed", "--json") for a in rest): ap.error("--seed and --json are set per run here")
    runs = []
    for seed in [int(s) for s in args.seeds.split(",") if s.strip()]:
        path = OUT / f"seed{seed}.json"
        cmd = [sys.executable, str(HERE / "bench_parser.py"), *rest, "--seed", str(seed), "--json", str(path)]
        print(f"seed {seed}: {' '.join(cmd[1:])}", flush=True)
        if subprocess.run(cmd).returncode != 0: sys.exit(f"seed {seed}: bench_parser.py failed")
        runs.append(json.loads(path.read_text()))
    summary = summarize(runs)
    print_summary(summary)
    (HERE / "results" / "bench_parser_seeds.json").write_text(json.dumps({"seeds": args.seeds, "argv": rest, "summary": summary}, indent=1))

if __name__ == "__main__": main()
