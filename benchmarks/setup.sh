#!/usr/bin/env bash
# Create benchmarks/.venv: spaCy 3.8 for side-by-side runs, in a venv of
# their own so that the nlpnb package never depends on spaCy (nlpnb runs from the project environment). benchmarks/.venv is git-ignored.
# Usage: bash benchmarks/setup.sh            (PYTHON=python3.11 bash benchmarks/setup.sh to pick the interpreter)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
VENV="$HERE/.venv"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "spacy>=3.8,<3.9"
"$VENV/bin/python" - <<'PY'
import spacy
print(f"benchmarks/.venv ready: spaCy {spacy.__version__}")
PY
