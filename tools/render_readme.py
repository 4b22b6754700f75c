"""Render nbs/index.ipynb to README.md (Quarto cannot be installed here, so nbdev_readme does not run).

`python tools/render_readme.py` writes README.md; `--check` exits 1 when README.md is out of date.
Cells marked `#| hide` are left out, and nbdev directives are stripped from the code shown.
"""
import re, sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parent.parent
DIRECTIVE = re.compile(r"^\s*#\s*\|.*$\n?", re.MULTILINE)

def render() -> str:
    nb = nbformat.read(ROOT / "nbs" / "index.ipynb", as_version=4)
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            if re.search(r"^\s*#\s*\|\s*hide\b", cell.source, re.MULTILINE): continue
            cell.source = DIRECTIVE.sub("", cell.source).strip("\n")
            cell.outputs = []
        cells.append(cell)
    nb.cells = cells
    body, _ = MarkdownExporter().from_notebook_node(nb)
    body = re.sub(r"\n{3,}", "\n\n", body).strip() + "\n"
    return "<!-- Generated from nbs/index.ipynb by tools/render_readme.py: edit the notebook, not this file. -->\n\n" + body

if __name__ == "__main__":
    text, readme = render(), ROOT / "README.md"
    if "--check" in sys.argv:
        if not readme.exists() or readme.read_text(encoding="utf-8") != text:
            sys.exit("README.md is out of date: run `python tools/render_readme.py` and commit it.")
    else:
        readme.write_text(text, encoding="utf-8")
