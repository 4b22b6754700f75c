"""BILUO transition system: kernels against the plain-Python reference on random documents (presets, sentence
starts, missing gold), the reference against exhaustive search, the oracle on WikiANN (full and partial
annotation, entity-ruler presets), and the CUDA twins under Numba's simulator."""
import itertools, json, os, subprocess, sys, textwrap, time
from pathlib import Path
import numpy as np
import pytest
from nlpnb.parser.ner_moves import BiluoPushDown, _tag_to_move
from nlpnb.parser.ner_kernels import INVALID_COST
from nlpnb.parser.ner_ref import RefState, random_ner_batch
from nlpnb.parser.state import blank_gold, take, take_gold
from nlpnb.symbols import ENT_IOB, SPACY
from nlpnb.tokens.doc import Doc, Span
from nlpnb.training.example import Example
from nlpnb.training.example import doc_to_biluo_tags
from nlpnb.vocab import Vocab

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parents[1].parent / "shared" / "data"
WIKIANN_DEV = DATA / "wikiann_en" / "dev.iob"

def gold_of(golds, S):
    return blank_gold(len(S.stack), tags=[t for g in golds for t in g])

def refs_of(S, presets, n_labels):
    return [RefState(n_labels, int(S.length[i]), S.sent_start[S.offset[i]:S.offset[i] + S.length[i]].tolist(), presets[i],
                     int(S.tok_offset[i])) for i in range(len(S.offset))]

def biluo(s, e, l):
    return [4 + 4 * l] if e - s == 1 else [1 + 4 * l] + [2 + 4 * l] * (e - s - 2) + [3 + 4 * l]

# -- kernels against the reference ------------------------------------------------------------------

@pytest.mark.parametrize("seed,n_labels,max_len,p_preset", [(1, 1, 8, 0.3), (2, 3, 15, 0.3), (3, 4, 25, 0.5), (4, 2, 12, 0.0)])
def test_kernels_agree_with_reference_on_random_move_sequences(seed, n_labels, max_len, p_preset):
    rng = np.random.default_rng(seed)
    vocab = Vocab()
    labels = ["PER", "LOC", "ORG", "MISC"][:n_labels]
    moves = BiluoPushDown(vocab.strings, labels)
    docs, golds, presets = random_ner_batch(rng, vocab, labels, 300, max_len=max_len, p_preset=p_preset)
    S = moves.init_states(docs)
    G = gold_of(golds, S)
    refs = refs_of(S, presets, n_labels)
    n_checked = 0
    while True:
        V, C = moves.valid(S), moves.costs(S, G)
        F3, F6 = moves.features(S, 3), moves.features(S, 6)
        final = moves.is_final(S)
        for i, r in enumerate(refs):
            assert V[i].tolist() == r.valid(), (i, r.tags)
            assert C[i].tolist() == r.costs(golds[i]), (i, r.tags)
            assert F6[i].tolist() == r.features(6) and F3[i].tolist() == r.features(3)
            assert final[i] == (r.b >= r.n)
            assert final[i] or V[i].any()          # never stuck
            if not final[i]: assert (C[i][V[i]] == 0).any() and (C[i][~V[i]] == INVALID_COST).all()
            n_checked += 1
        if final.all(): break
        acts = np.array([rng.choice(np.flatnonzero(v)) if v.any() else -1 for v in V], np.int32)
        moves.apply(S, acts)
        for i, r in enumerate(refs):
            if acts[i] >= 0: r.apply(int(acts[i]))
    assert n_checked > 1000
    for i, r in enumerate(refs):
        o, n = S.offset[i], S.length[i]
        assert (S.ent_iob[o:o + n].tolist(), S.ent_type[o:o + n].tolist()) == r.ent_columns()
        assert S.ent_start[i] == -1 and S.ent_label[i] == -1
        for s, e, l in presets[i]:
            assert r.tags[s:e] == (biluo(s, e, l) if l >= 0 else [0] * (e - s))

def test_reference_costs_match_exhaustive_search():
    "The reference's DP against enumerating every admissible tag sequence of tiny docs."
    rng = np.random.default_rng(9)
    vocab = Vocab()
    labels = ["A", "B"]
    docs, golds, presets = random_ner_batch(rng, vocab, labels, 150, max_len=5, p_preset=0.3)
    moves = BiluoPushDown(vocab.strings, labels)
    S = moves.init_states(docs)
    for i, r in enumerate(refs_of(S, presets, 2)):
        seqs = []
        for seq in itertools.product(range(9), repeat=r.n):
            st, ok = -1, True
            for k, m in enumerate(seq):
                if not r.admissible(k, st, m): ok = False; break
                st = r._after(st, m)
            if ok and st < 0: seqs.append(seq)
        assert seqs, presets[i]               # presets + sentence starts always admit a sequence
        if not r.n: continue
        valid = r.valid()
        assert [any(s[0] == m for s in seqs) for m in range(9)] == valid
        loss = {m: min(sum(g >= 0 and g != t for g, t in zip(golds[i], s)) for s in seqs if s[0] == m) for m in range(9) if valid[m]}
        low = min(loss.values())
        assert r.costs(golds[i]) == [float(loss[m] - low) if valid[m] else INVALID_COST for m in range(9)]

# -- the oracle -------------------------------------------------------------------------------------

def admissible_gold(rng, S, i, n_labels):
    "A random BILUO sequence for state i whose free entities don't cross sentence starts (no presets)."
    o, n = int(S.offset[i]), int(S.length[i])
    ss = S.sent_start[o:o + n]
    out, k = [], 0
    while k < n:
        if rng.random() < 0.4:
            e = k + 1
            while e < n and e - k < 4 and ss[e] != 1 and rng.random() < 0.6: e += 1
            out += biluo(k, e, int(rng.integers(n_labels))); k = e
        else: out.append(0); k += 1
    return out

@pytest.mark.parametrize("p_missing", [0.0, 0.3, 0.8])
def test_oracle_reaches_known_gold(p_missing):
    rng = np.random.default_rng(int(p_missing * 10) + 20)
    vocab = Vocab()
    labels = ["PER", "LOC", "ORG"]
    moves = BiluoPushDown(vocab.strings, labels)
    docs, _, _ = random_ner_batch(rng, vocab, labels, 500, max_len=30, p_preset=0.0)
    S = moves.init_states(docs)
    full = [admissible_gold(rng, S, i, 3) for i in range(len(docs))]
    golds = [[-1 if rng.random() < p_missing else t for t in g] for g in full]
    G = gold_of(golds, S)
    seqs = moves.oracle_actions(S, G)
    assert (S.b0 == 0).all()                  # S untouched
    for g, f, seq in zip(golds, full, seqs):
        assert len(seq) == len(g)
        assert all(a == t for a, t in zip(seq.tolist(), g) if t >= 0)
        if p_missing == 0.0: assert seq.tolist() == f
    # following the costs step by step gives the same sequences, and from any prefix the oracle agrees
    R = take(S, range(len(docs)))
    steps = []
    while not moves.is_final(R).all():
        C, V = moves.costs(R, G), moves.valid(R)
        acts = np.array([int(np.flatnonzero(v & (c == 0))[0]) if v.any() else -1 for c, v in zip(C, V)], np.int32)
        steps.append(acts); moves.apply(R, acts)
        if len(steps) == 7:                   # pieces cut mid-document, as training does
            idx = np.flatnonzero(~moves.is_final(R))
            for j, seq in zip(idx, moves.oracle_actions(take(R, idx), take_gold(G, R, idx))):
                assert seq.tolist() == seqs[j].tolist()[7:]
    for i, seq in enumerate(seqs):
        assert [s[i] for s in steps[:len(seq)]] == seq.tolist()

def test_costs_of_wrong_labels_and_unknown_gold():
    vocab = Vocab()
    moves = BiluoPushDown(vocab.strings, ["PER", "LOC"])
    doc = Doc(vocab, words=["a", "b", "c", "d"])
    S = moves.init_states([doc])
    G = gold_of([[1, -1, 3, 0]], S)           # B-PER ? L-PER O
    moves.apply(S, np.array([5], np.int32))   # B-LOC: already wrong
    c = moves.costs(S, G)[0]
    assert c[6] == 0 and c[7] == 0            # I-LOC or L-LOC at "b" (unknown): both one more mismatch at "c"
    moves.apply(S, np.array([6], np.int32))   # I-LOC
    c = moves.costs(S, G)[0]
    assert c[7] == 0 and c[6] == 1            # closing at "c" keeps the known O at "d"

# -- API --------------------------------------------------------------------------------------------

def test_labels_moves_and_serialization():
    vocab = Vocab()
    moves = BiluoPushDown(vocab.strings, ["PER"])
    assert moves.add_label("LOC") and not moves.add_label("PER")
    assert moves.n_moves == 9 and moves.move_names[5:] == ["B-LOC", "I-LOC", "L-LOC", "U-LOC"]
    assert moves.n_features(False) == 3 and moves.n_features(True) == 6
    back = BiluoPushDown(Vocab().strings).from_dict(json.loads(json.dumps(moves.to_dict())))
    assert back.move_names == moves.move_names and back.name == "ner"
    ref = Doc(vocab, words=list("abcde"), ents=["U-PER", "O", "B-ORG", "L-ORG", "U-PER"])
    assert BiluoPushDown.labels_from_examples([Example(Doc(vocab, words=list("abcde")), ref)]) == ["ORG", "PER"]
    assert BiluoPushDown.labels_from_examples([Example(Doc(vocab, words=list("abcde")), ref)], min_freq=2) == ["PER"]
    with pytest.raises(ValueError): moves.features(moves.init_states([ref]), 4)

def test_apply_best_respects_seen_and_falls_back():
    vocab = Vocab()
    moves = BiluoPushDown(vocab.strings, ["PER", "LOC"])
    doc = Doc(vocab, words=["Anna", "in", "Rome"])
    doc.ents = [Span(doc, 2, 3, label="LOC")]
    S = moves.init_states([doc, Doc(vocab, words=[])])
    scores = np.zeros((2, 9), np.float32); scores[:, 4] = 5; scores[:, 1] = 9
    seen = np.ones(9, bool); seen[1] = False
    assert moves.apply_best(S, scores, seen).tolist() == [4, -1]       # B-PER unseen -> U-PER
    moves.apply_best(S, scores, seen)
    seen[8] = False                                                     # U-LOC unseen, but the preset forces it
    assert moves.apply_best(S, scores, seen).tolist() == [8, -1]
    assert moves.is_final(S).all()

def test_gold_with_other_tokenization_and_unknown_labels():
    vocab = Vocab()
    ref = Doc(vocab, words=["New", "York", "-", "based", "Ann", "Lee"], spaces=[True, False, False, True, True, False],
              ents=["B-LOC", "L-LOC", "O", "O", "B-PER", "L-PER"])
    pred = Doc(vocab, words=["New", "York-based", "Ann", "Lee"], spaces=[True, True, True, False])
    moves = BiluoPushDown(vocab.strings, ["PER"])
    eg = Example(pred, ref)
    S = moves.init_states([pred, pred])
    G = moves.gold([eg, eg], S)
    assert G.tags.tolist() == [-1, -1, 1, 3] * 2   # LOC unknown to the system; "York-based" can't align
    assert moves.oracle_actions(S, G)[0].tolist() == [0, 0, 1, 3]

# -- real data --------------------------------------------------------------------------------------

def wikiann(limit=None, n_sents=1):
    if not WIKIANN_DEV.exists(): pytest.skip(f"missing {WIKIANN_DEV}")
    from nlpnb.training.converters import read_iob
    vocab = Vocab()
    refs = list(itertools.islice(read_iob(WIKIANN_DEV, vocab, n_sents=n_sents), limit))
    pred = lambda r, sents: Doc(vocab, words=r.words, spaces=r._cols[SPACY].astype(bool).tolist(),
                                sent_starts=[t.is_sent_start for t in r] if sents else None)
    return vocab, refs, pred

def run_oracle(moves, examples, S=None):
    S = moves.init_states([eg.predicted for eg in examples]) if S is None else S
    G = moves.gold(examples, S)
    seqs = moves.oracle_actions(S, G)
    for t in range(max(map(len, seqs), default=0)):
        moves.apply(S, np.array([s[t] if t < len(s) else -1 for s in seqs], np.int32))
    assert moves.is_final(S).all()
    docs = [eg.predicted for eg in examples]
    moves.set_annotations(S, docs)
    return docs

ents = lambda doc: [(e.start, e.end, e.label_) for e in doc.ents]

def test_oracle_reproduces_wikiann_multi_sentence_docs_with_sentence_starts():
    vocab, refs, pred = wikiann(300, n_sents=8)
    examples = [Example(pred(r, True), r) for r in refs]
    assert sum(d.predicted._cols[SPACY].size for d in examples) > 3000
    moves = BiluoPushDown(vocab.strings, ["LOC", "ORG", "PER"])
    docs = run_oracle(moves, examples)
    assert all(ents(d) == ents(r) for d, r in zip(docs, refs))

def test_oracle_with_partial_wikiann_annotation():
    "Half the tokens' gold made missing ('-'): every known entity and every known O still comes out."
    vocab, refs, pred = wikiann(2000)
    rng = np.random.default_rng(3)
    examples = []
    for r in refs:
        keep = [e for e in r.ents if rng.random() < 0.5]
        kept_toks = {k for e in keep for k in range(e.start, e.end)}
        r2 = Doc(vocab, words=r.words, spaces=r._cols[SPACY].astype(bool).tolist())
        r2.set_ents([Span(r2, e.start, e.end, label=e.label_) for e in keep],
                    missing=[Span(r2, k, k + 1) for k in range(len(r)) if k not in kept_toks and rng.random() < 0.6])
        examples.append(Example(pred(r, False), r2))
    tags = [eg.get_aligned_ner() for eg in examples]
    assert sum(t.count("-") for t in tags) > 5000
    moves = BiluoPushDown(vocab.strings, ["LOC", "ORG", "PER"])
    S = moves.init_states([eg.predicted for eg in examples])
    assert moves.gold(examples, S).tags.tolist() == [_tag_to_move(x, moves._ids) for t in tags for x in t]
    docs = run_oracle(moves, examples)
    for d, t in zip(docs, tags):
        got = doc_to_biluo_tags(d)
        assert all(g == w for g, w in zip(got, t) if w != "-"), (got, t)

def test_entity_ruler_presets_are_kept():
    import nlpnb
    vocab, refs, pred = wikiann(1500)
    nlp = nlpnb.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "LOC", "pattern": "France"}, {"label": "LOC", "pattern": [{"LOWER": "new"}, {"LOWER": "york"}]},
                        {"label": "PER", "pattern": "John"}, {"label": "MISC", "pattern": "American"},
                        {"label": "ORG", "pattern": [{"LOWER": "university"}, {"LOWER": "of"}, {"IS_TITLE": True}]}])
    examples = []
    for r in refs:
        p = Doc(nlp.vocab, words=r.words, spaces=r._cols[SPACY].astype(bool).tolist())
        examples.append(Example(ruler(p), r))
    presets = [ents(eg.predicted) for eg in examples]
    assert sum(map(len, presets)) > 30 and any(l == "MISC" for p in presets for *_, l in p)
    moves = BiluoPushDown(nlp.vocab.strings, ["LOC", "ORG", "PER"])
    S = moves.init_states([eg.predicted for eg in examples])
    # the oracle, gold and presets disagreeing in places: presets win, the rest follows the gold
    docs = run_oracle(moves, examples, S)
    for d, p, r in zip(docs, presets, refs):
        got = ents(d)
        assert set(p) <= set(got)
        covered = {k for s, e, _ in p for k in range(s, e)}
        free_ref = [x for x in ents(r) if not any(k in covered for k in range(x[0], x[1]))]
        assert set(free_ref) <= set(got), (got, p, ents(r))
    # random scores with unseen moves: presets are still reproduced exactly
    rng = np.random.default_rng(0)
    docs2 = [Example(ruler(Doc(nlp.vocab, words=r.words)), r).predicted for r in refs]
    S = moves.init_states(docs2)
    seen = rng.random(moves.n_moves) < 0.5
    while not moves.is_final(S).all():
        moves.apply_best(S, rng.normal(size=(len(docs2), moves.n_moves)).astype(np.float32), seen)
    moves.set_annotations(S, docs2)
    for d, p in zip(docs2, presets):
        assert set(p) <= set(ents(d)), (ents(d), p)
        assert all(t in (1, 2, 3) for t in d._cols[ENT_IOB].tolist())

def test_oracle_reproduces_wikiann_dev_and_kernel_timings():
    "Every dev sentence's entities from the oracle's moves; per-call timings printed (pytest -s) and bounded."
    vocab, refs, pred = wikiann()
    examples = [Example(pred(r, False), r) for r in refs]
    moves = BiluoPushDown(vocab.strings, BiluoPushDown.labels_from_examples(examples))
    assert moves.labels == ["LOC", "ORG", "PER"]
    t = {}
    t0 = time.perf_counter(); S = moves.init_states([eg.predicted for eg in examples]); t["init_states"] = time.perf_counter() - t0
    t0 = time.perf_counter(); G = moves.gold(examples, S); t["gold"] = time.perf_counter() - t0
    t0 = time.perf_counter(); seqs = moves.oracle_actions(S, G); t["oracle_actions"] = time.perf_counter() - t0
    B, n_steps = len(S.offset), max(map(len, seqs))
    valid, costs, feats = np.zeros((B, moves.n_moves), bool), np.zeros((B, moves.n_moves), np.float32), np.zeros((B, 6), np.int32)
    for k in ("valid", "costs", "features", "apply"): t[k] = 0.0
    for step in range(n_steps):
        t0 = time.perf_counter(); moves.valid(S, valid); t["valid"] += time.perf_counter() - t0
        t0 = time.perf_counter(); moves.costs(S, G, costs); t["costs"] += time.perf_counter() - t0
        t0 = time.perf_counter(); moves.features(S, 6, feats); t["features"] += time.perf_counter() - t0
        acts = np.array([s[step] if step < len(s) else -1 for s in seqs], np.int32)
        assert ((costs[np.arange(B), acts] == 0) | (acts < 0)).all() and (valid[np.arange(B), acts] | (acts < 0)).all()
        t0 = time.perf_counter(); moves.apply(S, acts); t["apply"] += time.perf_counter() - t0
    assert moves.is_final(S).all()
    docs = [eg.predicted for eg in examples]
    t0 = time.perf_counter(); moves.set_annotations(S, docs); t["set_annotations"] = time.perf_counter() - t0
    print(json.dumps({"states": B, "tokens": int(S.length.sum()), "steps": n_steps, **{k: round(v * 1000, 1) for k, v in t.items()}}))
    assert len(docs) == 10000 and sum(len(d.ents) for d in docs) > 10000
    bad = [i for i, (d, r) in enumerate(zip(docs, refs)) if ents(d) != ents(r)]
    assert not bad, bad[:10]
    slow = [_tag_to_move(x, moves._ids) for eg in examples[:2000] for x in eg.get_aligned_ner()]
    assert G.tags[:len(slow)].tolist() == slow     # the same-tokens fast path == get_aligned_ner
    assert t["costs"] < 5 and t["oracle_actions"] < 2

# -- CUDA twins -------------------------------------------------------------------------------------

def test_cuda_kernels_under_simulator_match_cpu():
    code = textwrap.dedent("""
        import json, numpy as np
        from numba import config
        assert config.ENABLE_CUDASIM
        from nlpnb.parser.ner_moves import BiluoPushDown
        from nlpnb.parser.ner_kernels import valid_cuda, apply_cuda, features_cuda, costs_cuda, cost_scratch, apply_best_cuda
        from nlpnb.parser.ner_ref import random_ner_batch
        from nlpnb.parser.state import blank_gold, take
        from nlpnb.vocab import Vocab
        rng = np.random.default_rng(4)
        vocab = Vocab(); labels = ["PER", "LOC", "ORG"]
        moves = BiluoPushDown(vocab.strings, labels)
        docs, _, _ = random_ner_batch(rng, vocab, labels, 40, max_len=10, p_preset=0.4)
        S = moves.init_states(docs); R = take(S, range(len(docs)))
        G = blank_gold(len(S.stack), tags=rng.integers(-1, moves.n_moves, len(S.stack)))
        B, n, bad, steps = len(docs), moves.n_moves, [], 0
        scratch = cost_scratch(R, n)
        while not moves.is_final(S).all():
            V = moves.valid(S)
            fin = moves.is_final(S)
            if not (valid_cuda(R, np.zeros((B, n), np.bool_))[~fin] == V[~fin]).all(): bad.append(("valid", steps))
            for nF in (3, 6):
                if not (features_cuda(R, nF, np.zeros((B, nF), np.int32)) == moves.features(S, nF)).all(): bad.append(("features", steps))
            if not (costs_cuda(R, G, np.zeros((B, n), np.float32), scratch) == moves.costs(S, G)).all(): bad.append(("costs", steps))
            if steps % 2:    # the greedy step on random scores, or random valid moves
                sc, seen = rng.normal(size=(B, n)).astype(np.float32), rng.random(n) < 0.7
                acts = moves.apply_best(S, sc, seen)
                if not (apply_best_cuda(R, sc, seen, np.zeros((B, n), np.bool_), np.zeros(B, np.int32)) == acts).all(): bad.append(("apply_best", steps))
            else:
                acts = np.array([rng.choice(np.flatnonzero(v)) if v.any() else -1 for v in V], np.int32)
                moves.apply(S, acts); apply_cuda(R, acts)
            steps += 1
            if any(not (getattr(S, f) == getattr(R, f)).all() for f in S._fields): bad.append(("apply", steps))
        print(json.dumps({"bad": bad, "steps": steps, "states": len(docs)}))
    """)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["bad"] == [] and out["steps"] >= 8 and out["states"] == 40


def test_known_wrong_entities_cost_the_move_that_closes_them():
    "`incorrect_spans_key` gold: kernel costs against the reference on random docs with random known-wrong entities."
    rng = np.random.default_rng(7)
    vocab = Vocab()
    labels = ["PER", "LOC", "ORG"]
    moves = BiluoPushDown(vocab.strings, labels)
    docs, golds, presets = random_ner_batch(rng, vocab, labels, 300, max_len=12, p_preset=0.2, p_missing=0.6)
    S = moves.init_states(docs)
    negs = []
    G = blank_gold(len(S.stack), tags=[t for g in golds for t in g])
    for i, doc in enumerate(docs):
        mine = []
        for _ in range(int(rng.integers(0, 3))):
            if not len(doc): break
            s = int(rng.integers(len(doc))); e = min(len(doc), s + int(rng.integers(1, 4))); l = int(rng.integers(3))
            k = S.offset[i] + e - 1
            if G.neg_start[k] < 0: G.neg_start[k], G.neg_label[k] = s, l; mine.append((s, e, l))
        negs.append(mine)
    refs = refs_of(S, presets, len(labels))
    penalised = 0
    while not moves.is_final(S).all():
        V, C = moves.valid(S), moves.costs(S, G)
        for i, r in enumerate(refs):
            expected = r.costs(golds[i], negs[i])
            assert C[i].tolist() == expected, (i, r.tags, negs[i])
            penalised += expected != r.costs(golds[i])
        acts = np.array([rng.choice(np.flatnonzero(v)) if v.any() else -1 for v in V], np.int32)
        moves.apply(S, acts)
        for i, r in enumerate(refs):
            if acts[i] >= 0: r.apply(int(acts[i]))
    assert penalised > 50   # the known-wrong entities changed many cost rows


def test_incorrect_spans_from_examples_reach_the_gold():
    vocab = Vocab()
    moves = BiluoPushDown(vocab.strings, ["PER", "LOC"], neg_key="incorrect")
    doc = Doc(vocab, ["Paris", "Hilton", "went", "to", "Paris"])
    eg = Example.from_dict(doc, {"entities": ["-", "-", "-", "O", "U-LOC"], "spans": {"incorrect": [(0, 12, "LOC"), (0, 5, "LOC")]}})
    S = moves.init_states([eg.predicted])
    G = moves.gold([eg], S)
    assert G.neg_start.tolist() == [0, 0, -1, -1, -1] and G.neg_label.tolist() == [1, 1, -1, -1, -1]
    C = moves.costs(S, G)
    assert C[0, moves.move_names.index("U-LOC")] > 0 and C[0, moves.move_names.index("U-PER")] == 0
    moves.apply(S, np.array([moves.move_names.index("B-LOC")], np.int32))
    C = moves.costs(S, G)
    assert C[0, moves.move_names.index("L-LOC")] > 0     # closing "Paris Hilton" as LOC is known to be wrong
