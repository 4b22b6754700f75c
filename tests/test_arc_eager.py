"""Arc-eager transitions: the batched Numba kernels against the plain-Python reference along random move sequences,
the dynamic oracle on random gold trees (complete and with missing annotation) and on every EWT dev sentence, gold
from examples, set_annotations, and the CUDA twins under Numba's simulator."""
import json, os, subprocess, sys, textwrap
from pathlib import Path
import numpy as np
import pytest
from nlpnb.vocab import Vocab
from nlpnb.tokens.doc import Doc
from nlpnb.training.example import Example
from nlpnb.training import nonproj
from nlpnb.parser.state import Gold, blank_gold, take, take_gold
from nlpnb.parser.arc_eager import ArcEager
from nlpnb.parser.arc_eager_kernels import SHIFT, REDUCE
from nlpnb.parser.arc_eager_ref import RefState, ref_valid, ref_apply, ref_costs, ref_features, random_projective_heads

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parents[1].parent / "shared" / "data"
EWT_DEV = DATA / "ud_en_ewt" / "en_ewt-ud-dev.conllu"
VOCAB = Vocab()

def random_batch(rng, n_docs, max_len=25, n_labels=6, p_missing=0.0, p_preset=0.0, p_missing_starts=None):
    "Docs (with random preset sentence starts), their random projective gold, and the states (shuffled with take)."
    docs, golds = [], []
    for _ in range(n_docs):
        n = int(rng.integers(0, max_len + 1))
        heads, starts = random_projective_heads(rng, n, max_sent=int(rng.integers(1, 15)))
        labels = [0 if h == k else int(rng.integers(1, n_labels)) for k, h in enumerate(heads)]
        preset = [None] * n
        for k in range(n):
            if rng.random() < p_preset: preset[k] = bool(rng.integers(0, 2))
        docs.append(Doc(VOCAB, words=["w"] * n, sent_starts=preset))
        gh, gl, gs = np.array(heads, np.int32), np.array(labels, np.int32), np.array(starts, np.int32)
        if p_missing:
            gh[rng.random(n) < p_missing] = -1
            gl[(rng.random(n) < p_missing) | (gh == -1)] = -1
            gs[rng.random(n) < (p_missing if p_missing_starts is None else p_missing_starts)] = 0
        golds.append(blank_gold(n, heads=gh, labels=gl, sent_start=gs))
    moves = ArcEager(VOCAB.strings, [f"l{k}" for k in range(1, n_labels)])
    S0 = moves.init_states(docs)
    G0 = Gold(*(np.concatenate([getattr(g, f) for g in golds]).astype(np.int32) for f in Gold._fields))
    perm = rng.permutation(len(docs))
    perm = np.concatenate([perm, perm[:3]])                   # a few duplicates too
    return moves, docs, take(S0, perm), take_gold(G0, S0, perm), perm

def ref_states(S, perm, docs):
    return [RefState(int(S.length[i]), [int(x) for x in S.sent_start[S.offset[i]:S.offset[i] + S.length[i]]]) for i in range(len(perm))]

def gold_lists(G, S, i):
    o, n = int(S.offset[i]), int(S.length[i])
    return G.heads[o:o + n].tolist(), G.labels[o:o + n].tolist(), G.sent_start[o:o + n].tolist()

# -- kernels against the reference --------------------------------------------------------------------

@pytest.mark.parametrize("seed,p_missing,p_preset", [(0, 0.0, 0.0), (1, 0.2, 0.1), (2, 0.5, 0.3), (3, 0.0, 0.5)])
def test_kernels_agree_with_reference_along_random_move_sequences(seed, p_missing, p_preset):
    rng = np.random.default_rng(seed)
    moves, docs, S, G, perm = random_batch(rng, 150, p_missing=p_missing, p_preset=p_preset)
    L = moves.n_labels
    refs = ref_states(S, perm, docs)
    golds = [gold_lists(G, S, i) for i in range(len(refs))]
    checked = 0
    while not all(r.is_final() for r in refs):
        valid, costs = moves.valid(S), moves.costs(S, G)
        f8, f13 = moves.features(S, 8), moves.features(S, 13)
        actions = np.full(len(refs), -1, np.int32)
        for i, r in enumerate(refs):
            assert moves.is_final(S)[i] == r.is_final()
            if r.is_final(): continue
            rv = ref_valid(r, L)
            assert valid[i].tolist() == rv
            rc = ref_costs(r, *golds[i], L)
            assert costs[i].tolist() == rc
            t = int(S.tok_offset[i])
            assert f8[i].tolist() == ref_features(r, 8, t) and f13[i].tolist() == ref_features(r, 13, t)
            ok = [a for a in range(moves.n_moves) if rv[a]]
            best = min(ok, key=lambda a: (rc[a], a))
            actions[i] = best if rng.random() < 0.6 else int(rng.choice(ok))
            ref_apply(r, int(actions[i]), L, moves.fallback)
            checked += 1
        moves.apply(S, actions)
        for i, r in enumerate(refs):
            o, n = int(S.offset[i]), r.n
            assert S.heads[o:o + n].tolist() == r.heads and S.labels[o:o + n].tolist() == r.labels
            assert S.sent_start[o:o + n].tolist() == r.sent_start
            assert S.stack[o:o + S.depth[i]].tolist() == r.stack and S.b0[i] == r.b
    assert moves.is_final(S).all() and checked > 3000

def test_apply_best_is_the_best_valid_seen_move():
    rng = np.random.default_rng(4)
    moves, docs, S, G, perm = random_batch(rng, 120, p_preset=0.2)
    refs = ref_states(S, perm, docs)
    while not moves.is_final(S).all():
        valid = moves.valid(S)
        scores = rng.normal(size=valid.shape).astype(np.float32)
        seen = rng.random(moves.n_moves) < 0.7
        want = []
        for i in range(len(refs)):
            if refs[i].is_final(): want.append(-1); continue
            m = valid[i] & seen if (valid[i] & seen).any() else valid[i]
            want.append(int(np.argmax(np.where(m, scores[i], -np.inf))))
        got = moves.apply_best(S, scores, seen)
        assert got.tolist() == want
        for r, a in zip(refs, want): ref_apply(r, a, moves.n_labels, moves.fallback)
    for i, r in enumerate(refs):
        assert S.heads[S.offset[i]:S.offset[i] + r.n].tolist() == r.heads

# -- the oracle -----------------------------------------------------------------------------------------

def run_oracle(moves, S, G):
    acts = moves.oracle_actions(S, G)
    before = [a.copy() for a in S]
    for step in range(max([len(a) for a in acts] + [0])):
        moves.apply(S, np.array([a[step] if step < len(a) else -1 for a in acts], np.int32))
    return acts, before

@pytest.mark.parametrize("seed", [5, 6])
def test_oracle_rebuilds_random_projective_trees(seed):
    rng = np.random.default_rng(seed)
    moves, docs, S, G, perm = random_batch(rng, 400, max_len=40)
    S0 = take(S, range(len(perm)))
    acts, _ = run_oracle(moves, S, G)
    assert [len(a) for a in acts] == (2 * S.length).tolist()                       # 2n moves per document
    assert all(np.array_equal(a, b) for a, b in zip(take(S0, range(len(perm))), S0))  # oracle_actions left S0 alone
    assert moves.is_final(S).all()
    assert np.array_equal(S.heads, G.heads) and np.array_equal(S.labels, G.labels)
    starts = np.where(S.sent_start == 1, 1, -1); starts[S.offset[S.length > 0]] = 1
    assert np.array_equal(starts, G.sent_start)

def known_decisions_kept(S, G):
    "(known heads, labels, sentence starts (not the docs' first tokens)) and how many of each the final states got wrong."
    known, kl = G.heads >= 0, G.labels >= 0
    starts = np.where(S.sent_start == 1, 1, -1)
    ks = G.sent_start != 0
    ks[S.offset[S.length > 0]] = False
    return ((int(known.sum()), int((S.heads[known] != G.heads[known]).sum())),
            (int(kl.sum()), int((S.labels[kl] != G.labels[kl]).sum())),
            (int(ks.sum()), int((starts[ks] != G.sent_start[ks]).sum())))

@pytest.mark.parametrize("seed,p_missing,p_missing_starts", [(7, 0.1, 0.0), (8, 0.3, 0.0), (9, 0.6, 0.0), (10, 0.3, 1.0), (11, 0.6, 1.0)])
def test_oracle_with_missing_gold_makes_every_known_decision(seed, p_missing, p_missing_starts):
    "Heads and labels missing at random, sentence starts all known (as gold() gives them) or all unknown."
    rng = np.random.default_rng(seed)
    moves, docs, S, G, perm = random_batch(rng, 600, max_len=40, p_missing=p_missing, p_missing_starts=p_missing_starts)
    run_oracle(moves, S, G)
    assert moves.is_final(S).all()
    (n_heads, bad_heads), (n_labels, bad_labels), (n_starts, bad_starts) = known_decisions_kept(S, G)
    assert n_heads > 3000 and (bad_heads, bad_labels, bad_starts) == (0, 0, 0)

def test_oracle_with_sentence_starts_also_missing_at_random_keeps_almost_every_known_decision():
    "Masking sentence starts independently of the heads can leave knowledge the per-move costs can't honour (see the notebook)."
    rng = np.random.default_rng(12)
    moves, docs, S, G, perm = random_batch(rng, 600, max_len=40, p_missing=0.3)
    run_oracle(moves, S, G)
    (n_heads, bad_heads), (n_labels, bad_labels), (n_starts, bad_starts) = known_decisions_kept(S, G)
    assert bad_heads / n_heads < 0.03 and bad_labels / n_labels < 0.03 and bad_starts / n_starts < 0.05

def test_oracle_respects_preset_sentence_starts_that_agree_with_the_gold():
    rng = np.random.default_rng(10)
    n_docs, docs, golds = 200, [], []
    for _ in range(n_docs):
        n = int(rng.integers(1, 30))
        heads, starts = random_projective_heads(rng, n, max_sent=8)
        preset = [s == 1 if rng.random() < 0.5 else None for s in starts]
        docs.append(Doc(VOCAB, words=["w"] * n, sent_starts=preset))
        golds.append((heads, starts))
    moves = ArcEager(VOCAB.strings, ["x"])
    S = moves.init_states(docs)
    G = blank_gold(len(S.stack), heads=np.concatenate([np.array(h, np.int32) for h, _ in golds]),
                   labels=np.concatenate([np.array([0 if h == k else 1 for k, h in enumerate(hs)], np.int32) for hs, _ in golds]),
                   sent_start=np.concatenate([np.array(s, np.int32) for _, s in golds]))
    run_oracle(moves, S, G)
    assert np.array_equal(S.heads, G.heads)

# -- gold from examples and annotations on EWT --------------------------------------------------------

def ewt_examples(n_sents):
    if not EWT_DEV.exists(): pytest.skip(f"missing {EWT_DEV}")
    from nlpnb.training.converters import read_conllu
    vocab = Vocab()
    refs = list(read_conllu(EWT_DEV, vocab, n_sents=n_sents))
    return vocab, [Example(Doc(vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]), d) for d in refs]

def test_oracle_reproduces_every_ewt_dev_tree():
    vocab, egs = ewt_examples(n_sents=5)
    moves = ArcEager(vocab.strings, ArcEager.labels_from_examples(egs))
    assert moves.labels[0] == "ROOT" and "nsubj" in moves.labels and "root" not in moves.labels
    S = moves.init_states([eg.predicted for eg in egs])
    G = moves.gold(egs, S)
    assert (G.heads >= 0).all() and (G.labels >= 0).all() and (G.sent_start != 0).all()
    run_oracle(moves, S, G)
    assert moves.is_final(S).all()
    # the projectivized gold, exactly (UAS = LAS = 100%), and every sentence boundary
    assert np.array_equal(S.heads, G.heads) and np.array_equal(S.labels, G.labels)
    starts = np.where(S.sent_start == 1, 1, -1); starts[S.offset] = 1
    assert np.array_equal(starts, G.sent_start)
    # after deprojectivizing: the original tree wherever lifting can be undone
    docs = [eg.predicted for eg in egs]
    moves.set_annotations(S, docs)
    n_tok = n_sent = n_nonproj = restorable = 0
    for eg, doc in zip(egs, docs):
        ref = eg.reference
        assert [s.start for s in doc.sents] == [s.start for s in ref.sents]
        for sent in ref.sents:
            heads = [t.head.i - sent.start for t in sent]
            deps = [t.dep_ for t in sent]
            ph, pd = nonproj.projectivize(heads, deps)
            back = nonproj.deprojectivize(ph, pd)
            n_sent += 1; n_nonproj += nonproj.is_nonproj_tree(heads)
            got = ([doc[t.i].head.i - sent.start for t in sent], [doc[t.i].dep_ for t in sent])
            want_deps = ["ROOT" if h == k else d for k, (h, d) in enumerate(zip(heads, deps))]
            if back == (heads, deps):
                restorable += 1
                assert got == (heads, want_deps)
            else:
                assert got == (back[0], ["ROOT" if h == k else d for k, (h, d) in enumerate(zip(*back))])
            n_tok += len(sent)
    assert n_sent == 2001 and n_tok == 25147 and n_nonproj > 10 and n_sent - restorable <= 5

def test_gold_from_examples_with_another_tokenization_and_rare_labels():
    vocab = Vocab()
    ref = Doc(vocab, words=["Don't", "go", ".", "Now", "!"], spaces=[True, False, True, False, False],
              heads=[1, 1, 1, 3, 3], deps=["aux", "ROOT", "punct", "ROOT", "punct"])
    pred = Doc(vocab, words=["Do", "n't", "go", ".", "Now", "!"], spaces=[False, True, False, True, False, False])
    eg = Example(pred, ref)
    assert ArcEager.labels_from_examples([eg]) == ["punct", "aux", "subtok", "dep"]
    assert ArcEager.labels_from_examples([eg], min_freq=2) == ["punct", "dep"]
    moves = ArcEager(vocab.strings, ArcEager.labels_from_examples([eg], min_freq=2))
    S = moves.init_states([pred])
    G = moves.gold([eg], S)
    assert G.heads.tolist() == [1, 2, 2, 2, 4, 4]
    assert [moves.labels[l] for l in G.labels.tolist()] == ["dep", "dep", "ROOT", "punct", "ROOT", "punct"]
    assert G.sent_start.tolist() == [1, -1, -1, -1, 1, -1]
    moves2 = ArcEager(vocab.strings, ["punct"])                     # no "dep": unknown labels stay unknown
    assert moves2.gold([eg], moves2.init_states([pred])).labels.tolist() == [-1, -1, 0, 1, 0, 1]
    with pytest.raises(ValueError, match="has 5 tokens but example 0 has 6"):
        moves.gold([eg], moves.init_states([ref]))

def test_set_annotations_deprojectivizes_and_writes_sentences():
    vocab = Vocab()
    moves = ArcEager(vocab.strings, ["nsubj", "obj||nsubj", "punct"])
    doc = Doc(vocab, words=["a", "b", "c", "d", "e"])
    S = moves.init_states([doc])
    # a -> b (nsubj) , b root, c lifted to b with obj||nsubj ; BREAK ; d root, e punct
    for name in ["S", "R-nsubj", "D", "R-obj||nsubj", "D", "B", "S", "R-punct", "D", "D"]:
        assert moves.valid(S)[0, moves.lookup(name)], name
        moves.apply(S, np.array([moves.lookup(name)]))
    assert moves.is_final(S)[0]
    moves.set_annotations(S, [doc])
    assert [t.head.i for t in doc] == [0, 0, 1, 3, 3]
    assert [t.dep_ for t in doc] == ["ROOT", "nsubj", "obj", "ROOT", "punct"]
    assert [s.text for s in doc.sents] == ["a b c ", "d e"] or [len(s) for s in doc.sents] == [3, 2]

def test_to_dict_is_json_and_labels_only_grow():
    moves = ArcEager(None, ["nsubj", "obj"])
    data = json.loads(json.dumps(moves.to_dict()))
    again = ArcEager(None).from_dict(data)
    assert again.labels == ["ROOT", "nsubj", "obj"] and again.move_names == moves.move_names
    assert again.add_label("amod") and not again.add_label("obj")
    assert again.move_names[-1] == "R-amod" and again.n_moves == 9 and again.n_features(True) == 13 and again.n_features(False) == 8

def test_empty_docs_and_empty_batches():
    moves = ArcEager(VOCAB.strings, ["x"])
    S = moves.init_states([Doc(VOCAB, words=[]), Doc(VOCAB, words=["a"])])
    assert moves.is_final(S).tolist() == [True, False]
    acts = moves.oracle_actions(S, blank_gold(1))
    assert [a.tolist() for a in acts] == [[], [SHIFT, REDUCE]]
    E = moves.init_states([])
    assert moves.valid(E).shape == (0, 5) and moves.features(E, 8).shape == (0, 8) and moves.apply_best(E, np.zeros((0, 5), np.float32)).shape == (0,)

# -- the CUDA twins under the simulator ---------------------------------------------------------------

def test_cuda_twins_under_simulator_match_cpu():
    code = textwrap.dedent("""
        import json, numpy as np
        from numba import config
        assert config.ENABLE_CUDASIM
        from nlpnb.vocab import Vocab
        from nlpnb.tokens.doc import Doc
        from nlpnb.parser.state import Gold, blank_gold, take, take_gold
        from nlpnb.parser import arc_eager_kernels as ae
        from nlpnb.parser.arc_eager import ArcEager
        from nlpnb.parser.arc_eager_ref import random_projective_heads
        rng = np.random.default_rng(11)
        vocab, docs, G = Vocab(), [], []
        for _ in range(36):
            n = int(rng.integers(0, 12))
            heads, starts = random_projective_heads(rng, n, 5)
            docs.append(Doc(vocab, words=["w"] * n, sent_starts=[None if rng.random() < 0.7 else bool(rng.integers(0, 2)) for _ in range(n)]))
            G.append((heads, [0 if h == k else int(rng.integers(1, 4)) for k, h in enumerate(heads)], starts))
        moves = ArcEager(vocab.strings, ["a", "b", "c"])
        S0 = moves.init_states(docs)
        cat = lambda k: np.concatenate([np.array(g[k], np.int32) for g in G] + [np.zeros(0, np.int32)])
        G0 = blank_gold(len(S0.stack), heads=cat(0), labels=cat(1), sent_start=cat(2))
        perm = rng.permutation(len(docs))
        S, G = take(S0, perm), take_gold(G0, S0, perm)
        dS, dG = ae.states_to_device(S), ae.states_to_device(G)
        from numba import cuda
        B, L, steps, bad = len(S.offset), moves.n_labels, 0, []
        while not moves.is_final(S).all():
            v = ae.valid_cuda(dS, L, cuda.to_device(np.zeros((B, moves.n_moves), np.bool_)), threads=16).copy_to_host()
            f = ae.features_cuda(dS, 13, cuda.to_device(np.zeros((B, 13), np.int32)), threads=16).copy_to_host()
            c = ae.costs_cuda(dS, dG, L, cuda.to_device(np.zeros((B, moves.n_moves), np.float32)), threads=16).copy_to_host()
            if not np.array_equal(v, moves.valid(S)): bad.append(("valid", steps))
            if not np.array_equal(f, moves.features(S, 13)): bad.append(("features", steps))
            if not np.array_equal(c, moves.costs(S, G)): bad.append(("costs", steps))
            if steps % 2:   # the greedy step on random scores, or random valid moves
                sc, seen = rng.normal(size=(B, moves.n_moves)).astype(np.float32), rng.random(moves.n_moves) < 0.7
                acts = moves.apply_best(S, sc, seen)
                got = ae.apply_best_cuda(dS, cuda.to_device(sc), cuda.to_device(seen), L, moves.fallback,
                                         cuda.to_device(np.zeros(B, np.int32)), threads=16).copy_to_host()
                if not np.array_equal(got, acts): bad.append(("apply_best", steps))
            else:
                acts = np.array([-1 if fin else int(rng.choice(np.flatnonzero(row))) for fin, row in zip(moves.is_final(S), v)], np.int32)
                moves.apply(S, acts)
                ae.apply_cuda(dS, cuda.to_device(acts), L, moves.fallback, threads=16)
            host = ae.states_to_host(dS)
            if not all(np.array_equal(a, b) for a, b in zip(host, S)): bad.append(("apply", steps))
            steps += 1
        print(json.dumps({"bad": bad, "steps": steps, "states": B}))
    """)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["bad"] == [] and out["states"] == 36 and out["steps"] >= 15
