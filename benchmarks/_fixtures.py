"""What the benchmarks and the tests both train: the tiny tagger + parser of `fuzz_reliability.py` and
`tests/test_reliability.py`, so the fuzz run and the tests check the same model.

`fuzz_reliability.py` runs as a script from this folder and imports it directly; `tests/test_reliability.py` puts this
folder on `sys.path` first (it runs from a clean clone with `pytest`).
"""
import itertools
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
EWT_DEV = ROOT.parent / "shared" / "data" / "ud_en_ewt" / "en_ewt-ud-dev.conllu"


def train_tiny(out: Path, n_docs: int = 60, corpus: Optional[Path] = None) -> None:
    """Train a tagger and a parser (tok2vec width 32, depth 1) three steps of 20 on the first 60 EWT dev sentences
    (about 3 s) and save them to `out`. With `corpus`, first write the first `n_docs` sentences (at least 60) to
    `corpus / "dev.nlpnb"` and the 60 trained on to `corpus / "train.nlpnb"` (before training: writing them adds
    their strings to the vocab the model saves)."""
    import nlpnb
    from thinc.api import fix_random_seed
    from nlpnb.tokens import DocBin
    from nlpnb.tokens.doc import Doc
    from nlpnb.training.converters import read_conllu
    from nlpnb.training.example import Example
    fix_random_seed(0)
    nlp = nlpnb.blank("en")
    for name in ("tagger", "parser"): nlp.add_pipe(name, config={"model": {"tok2vec": {"width": 32, "depth": 1}}})
    docs = list(itertools.islice(read_conllu(EWT_DEV, nlp.vocab), max(n_docs, 60)))
    if corpus is not None:
        DocBin(docs=docs).to_disk(corpus / "dev.nlpnb")
        DocBin(docs=docs[:60]).to_disk(corpus / "train.nlpnb")
    egs = [Example(Doc(nlp.vocab, [t.text for t in d], spaces=[bool(t.whitespace_) for t in d]), d) for d in docs[:60]]
    sgd = nlp.initialize(lambda: egs)
    for i in range(0, len(egs), 20): nlp.update(egs[i:i + 20], sgd=sgd)
    nlp.to_disk(out)
