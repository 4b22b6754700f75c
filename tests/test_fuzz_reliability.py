"""A short run of benchmarks/fuzz_reliability.py (issue 20): corrupt .nlpnb files, model folders and configs fail cleanly.

The full run is `python benchmarks/fuzz_reliability.py --minutes 10`; this one fuzzes the first 300 cases of a fixed seed (the same cases on every machine)."""
import subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EWT_DEV = ROOT.parent / "shared" / "data" / "ud_en_ewt" / "en_ewt-ud-dev.conllu"


@pytest.mark.skipif(not EWT_DEV.exists(), reason="../shared/data is missing")
def test_short_fuzz_run_has_no_crash_or_hang():
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fuzz_reliability.py"), "--cases", "300", "--minutes", "3", "--seed", "7",
                          "--timeout", "60"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-5000:] + res.stderr[-3000:]
    total = res.stdout.strip().splitlines()[-1]
    assert "crash 0  hang 0" in total and int(total.split()[0]) >= 20, res.stdout
