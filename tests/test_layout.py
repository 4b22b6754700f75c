"""The layout as a test: which area each module belongs to, and what each area may import.

The areas are layers, lowest first. A module may import from its own area and from the areas below it, never from
one above: so no import circle can form between areas, and the command line (the top) is never imported by the
library. README.md ("How the code is laid out") draws the same map.
"""
import ast, subprocess, sys
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

PACKAGE = Path(__file__).resolve().parents[1] / "nlpnb"

# area: the module prefixes it holds (a module belongs to the area with its longest matching prefix)
LAYERS: List[Tuple[str, List[str]]] = [
    ("base", ["nlpnb.util", "nlpnb.symbols", "nlpnb.strings", "nlpnb.registry", "nlpnb.kernels", "nlpnb.warm"]),
    ("doc", ["nlpnb.vocab", "nlpnb.vectors", "nlpnb.tokens", "nlpnb.tokenizer", "nlpnb.lang", "nlpnb.matcher"]),
    ("config", ["nlpnb.config", "nlpnb.default_config"]),
    ("data", ["nlpnb.training", "nlpnb.scorer"]),
    ("models", ["nlpnb.ml", "nlpnb.parser"]),
    ("pipeline", ["nlpnb.language", "nlpnb.parallel", "nlpnb.installed", "nlpnb.lang.en", "nlpnb.lang.xx", "nlpnb.pipeline", "nlpnb.training.converters"]),
    ("workflow", ["nlpnb.training.loop", "nlpnb.training.pretrain", "nlpnb.training.loggers", "nlpnb.training.monitor", "nlpnb.training.report",
                  "nlpnb.init_config", "nlpnb.init_vectors", "nlpnb.debug_data", "nlpnb.quickstart", "nlpnb.viz",
                  "nlpnb.ray", "nlpnb.package", "nlpnb.apply", "nlpnb.info", "nlpnb.debug_tools"]),
    ("package", ["nlpnb"]),
    ("cli", ["nlpnb.cli", "nlpnb.__main__"]),
]
RANK: Dict[str, int] = {name: i for i, (name, _) in enumerate(LAYERS)}

def area_of(module: str) -> str:
    "The area whose longest prefix matches `module` (`nlpnb.x.y` matches the prefix `nlpnb.x`; `nlpnb` only itself)."
    def matches(prefix: str) -> bool: return module == prefix or (prefix != "nlpnb" and module.startswith(prefix + "."))
    best = max(((len(p), name) for name, prefixes in LAYERS for p in prefixes if matches(p)), default=None)
    assert best is not None, f"{module} is in no area: add it to LAYERS here and to the map in README.md"
    return best[1]

def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

def library_modules() -> Iterator[Path]:
    return (p for p in sorted(PACKAGE.rglob("*.py")) if p.name != "_modidx.py")

def nlpnb_imports(path: Path) -> Iterator[Tuple[int, str]]:
    "Every nlpnb module that `path` imports, at module level or inside a function, with the line."
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "nlpnb": yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else: target = node.module or ""
            if target.split(".")[0] != "nlpnb": continue
            if target == "nlpnb" and all(a.name == "__version__" for a in node.names): continue  # the version string
            # `from nlpnb.x import y` may name a submodule y: count it as an import of nlpnb.x.y when it is one
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                is_module = (PACKAGE.parent / Path(*sub.split("."))).with_suffix(".py").exists() or \
                            (PACKAGE.parent / Path(*sub.split("."))).is_dir()
                yield node.lineno, sub if is_module else target

def test_every_module_has_an_area():
    for path in library_modules(): area_of(module_name(path))

def test_areas_import_only_downwards():
    "No module imports from an area above its own: the area graph is a chain of layers, so it has no circle."
    wrong = []
    for path in library_modules():
        mod = module_name(path); here = area_of(mod)
        for line, target in nlpnb_imports(path):
            there = area_of(target)
            if RANK[there] > RANK[here]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {mod} ({here}) imports {target} ({there})")
    assert not wrong, "imports that go up the layers:\n" + "\n".join(wrong)

def test_library_never_imports_the_cli():
    wrong = [f"{p.relative_to(PACKAGE.parent)}:{line}: imports {t}" for p in library_modules()
             if area_of(module_name(p)) != "cli" for line, t in nlpnb_imports(p) if area_of(t) == "cli"]
    assert not wrong, "\n".join(wrong)

def test_import_nlpnb_loads_no_command_line():
    # thinc imports torch where it is installed (the transformers extra), and torch imports argparse: count argparse
    # only when the third-party imports nlpnb builds on did not load it already
    code = ("import sys, thinc.api; pre = 'argparse' in sys.modules; import nlpnb; "
            "print(sorted(m for m in sys.modules if (m == 'argparse' and not pre) or m.startswith('nlpnb.cli')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"`import nlpnb` loaded {out}"

def test_optional_extras_load_only_when_used():
    "`import nlpnb`, `nlpnb.ray` and every command's module load no optional extra (ray, torch, transformers)."
    # thinc.api itself imports torch where it is installed (the dev extra has it): count only what nlpnb adds
    code = ("import sys, thinc.api; pre = set(sys.modules); import nlpnb, nlpnb.ray, nlpnb.cli; nlpnb.cli.main(['--version']); "
            "print(sorted(m for m in set(sys.modules) - pre if m.split('.')[0] in ('ray', 'torch', 'transformers')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out.splitlines()[-1] == "[]", f"importing nlpnb loaded {out}"

def test_area_of_examples():
    assert area_of("nlpnb.training.example") == "data"
    assert area_of("nlpnb.training.loop") == "workflow"
    assert area_of("nlpnb.lang") == "doc" and area_of("nlpnb.lang.en") == "pipeline"
    assert area_of("nlpnb.cli.train") == "cli" and area_of("nlpnb") == "package"


def test_every_notebook_names_its_kernel():
    "Opening a notebook in Jupyter starts the python3 kernel at once, without a 'Select Kernel' dialog."
    import json
    nbs = sorted((Path(__file__).resolve().parents[1] / "nbs").rglob("*.ipynb"))
    assert nbs
    missing = [str(p) for p in nbs if json.loads(p.read_text())["metadata"].get("kernelspec", {}).get("name") != "python3"]
    assert not missing, ("notebooks without a python3 kernelspec (add \"kernelspec\": {\"display_name\": \"python3\", "
                         "\"language\": \"python\", \"name\": \"python3\"} to their metadata): " + ", ".join(missing))
