"""`nlpnb.render` pages opened in headless Chromium: the screenshots' pixels show every arc, arrowhead, word, entity
and span bar where the markup puts them, in the colours `nlpnb.viz` picks, and the browser's DOM holds every label.
Skipped (with the reason) when no Chromium can be found or installed; see tests/browser.py."""
import itertools, re, struct, zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import List, Optional

import numpy as np
import pytest

from browser import blobs, color_mask, dark_mask, decode_png, ink_mask, outermost, screenshot, screenshot_and_dom
from nlpnb.tokens.doc import Span
from nlpnb.training.converters import read_conllu, read_iob
from nlpnb.viz import label_color, render

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="../shared/data is missing")
WHITE = (255, 255, 255)


# ------------------------------------------------------------------------------------------------------ helpers
class _Elements(HTMLParser):
    "Every element of a page in document order as [tag, attrs, text content (descendants included)]."
    VOID = {"br", "meta", "img", "hr", "input", "link", "wbr"}
    def __init__(self):
        super().__init__(); self.out: List[list] = []; self.open: List[list] = []
    def handle_starttag(self, tag, attrs):
        rec = [tag, dict(attrs), ""]; self.out.append(rec)
        if tag not in self.VOID: self.open.append(rec)
    def handle_startendtag(self, tag, attrs): self.out.append([tag, dict(attrs), ""])
    def handle_endtag(self, tag):
        while self.open and self.open.pop()[0] != tag: pass
    def handle_data(self, data):
        for rec in self.open: rec[2] += data


def elements(dom: str) -> List[list]:
    p = _Elements(); p.feed(dom); p.close()
    return p.out


def of_class(els: List[list], cls: str, tag: Optional[str] = None) -> List[list]:
    return [e for e in els if cls in e[1].get("class", "").split() and (tag is None or e[0] == tag)]


def numbers(text: str) -> List[float]:
    return [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", text)]


def encode_png(img: np.ndarray, filters: List[int]) -> bytes:
    "A straightforward PNG encoder (row filter `filters[y % len]`) to check `decode_png` against."
    h, w, c = img.shape
    rows, prev = [], np.zeros(w * c, np.int32)
    for y in range(h):
        cur, f = img[y].reshape(-1).astype(np.int32), filters[y % len(filters)]
        left = np.concatenate([np.zeros(c, np.int32), cur[:-c]])
        upleft = np.concatenate([np.zeros(c, np.int32), prev[:-c]])
        if f == 0: pred = np.zeros_like(cur)
        elif f == 1: pred = left
        elif f == 2: pred = prev
        elif f == 3: pred = (left + prev) // 2
        else:
            p = left + prev - upleft
            pa, pb, pc = np.abs(p - left), np.abs(p - prev), np.abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        rows.append(bytes([f]) + ((cur - pred) % 256).astype(np.uint8).tobytes())
        prev = cur
    chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, {3: 2, 4: 6}[c], 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def test_decode_png_undoes_every_row_filter():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (11, 9, 3), dtype=np.uint8)
    for filters in ([0], [1], [2], [3], [4], [4, 3, 2, 1, 0]):
        assert np.array_equal(decode_png(encode_png(rgb, filters)), rgb), filters
    rgba = np.concatenate([rgb, np.full((11, 9, 1), 255, np.uint8)], axis=2)
    rgba[0, 0, 3] = 0                                   # a transparent pixel comes out white
    out = decode_png(encode_png(rgba, [4, 1, 3]))
    assert np.array_equal(out[1:], rgb[1:]) and tuple(out[0, 0]) == WHITE and np.array_equal(out[0, 1:], rgb[0, 1:])
    with pytest.raises(ValueError, match="not a PNG"): decode_png(b"GIF89a")


def test_blobs_are_the_connected_regions_of_a_mask():
    mask = np.zeros((12, 20), bool)
    mask[1:4, 1:6] = True                                    # a box
    mask[6:11, 8:15] = True; mask[7:10, 10:13] = False       # a frame around a hole...
    mask[8, 11] = True                                       # ...with a speck in it
    mask[2, 18] = mask[3, 19] = True                         # diagonal neighbours aren't connected
    found = blobs(mask)
    assert found == [(1, 1, 4, 6, 15), (2, 18, 3, 19, 1), (3, 19, 4, 20, 1), (6, 8, 11, 15, 26), (8, 11, 9, 12, 1)]
    assert blobs(mask, min_pixels=2) == [found[0], found[3]]
    assert outermost(found) == [found[0], found[1], found[2], found[3]]


# ------------------------------------------------------------------------------------------------- dependencies
DEP_BG = "#fff8e0"   # the SVGs' background (a renderer option), to find each SVG in the screenshot


def dep_docs(n: int = 3) -> list:
    "The first `n` EWT dev sentences of 5-9 tokens (so each SVG fits the window)."
    sents = itertools.islice(read_conllu(DATA / "ud_en_ewt" / "en_ewt-ud-dev.conllu"), 200)
    return list(itertools.islice((d for d in sents if 5 <= len(d) <= 9), n))


def svg_geometry(els: List[list]) -> List[dict]:
    "Per SVG in the DOM: its size, words (x, baseline, text), and arcs (x1, x2, baseline, top, arrow x, label)."
    svgs = []
    for k, (tag, attrs, _) in enumerate(els):
        if tag == "svg":
            svgs.append({"w": int(attrs["width"]), "h": int(attrs["height"]), "words": [], "arcs": []})
        elif "nlpnb-word" in attrs.get("class", ""):
            tspan = els[k + 1]
            svgs[-1]["words"].append((float(tspan[1]["x"]), float(attrs["y"]), tspan[2]))
        elif "nlpnb-arc" in attrs.get("class", ""):
            (_, curve, _), (_, label, text), (_, head, _) = els[k + 1:k + 4]
            x1, y, _, y_top, _, _, x2, _ = numbers(curve["d"])
            svgs[-1]["arcs"].append({"x1": x1, "x2": x2, "y": y, "top": y_top, "end": numbers(head["d"])[0], "label": text})
    return svgs


@needs_data
def test_dependency_page_draws_every_arc_arrow_and_word(chromium, tmp_path):
    docs = dep_docs()
    html = render(docs, "dep", page=True, options={"bg": DEP_BG}, jupyter=False)
    sizes = [(s["w"], s["h"]) for s in svg_geometry(elements(html))]
    width, height = max(w for w, _ in sizes) + 160, sum(h for _, h in sizes) + 70 * len(sizes) + 60
    img, dom = screenshot_and_dom(html, tmp_path / "dep.png", width, height, binary=chromium)
    svgs = svg_geometry(elements(dom))
    assert len(svgs) == len(docs)

    # The DOM: every word, and every gold arc with its label from head to dependent, arrow at the dependent.
    for doc, svg in zip(docs, svgs):
        assert [w[2] for w in svg["words"]] == [t.text for t in doc]
        xs = np.array([w[0] for w in svg["words"]])
        word_at = lambda x: int(np.argmin(np.abs(xs - x)))
        drawn = Counter((word_at(a["x1"]), word_at(a["x2"]), a["label"], word_at(a["end"])) for a in svg["arcs"])
        gold = Counter((min(t.i, t.head.i), max(t.i, t.head.i), t.dep_, t.i) for t in doc if t.head.i != t.i)
        assert drawn == gold and len(gold) == len(doc) - 1

    # The pixels: find each SVG by its background, then check it at the coordinates its markup gives.
    assert dark_mask(img).sum() > 5000, "the page looks blank"
    boxes = blobs(color_mask(img, DEP_BG), min_pixels=1000)
    assert [(b - t, r - l) for t, l, b, r, _ in boxes] == [(s["h"], s["w"]) for s in svgs], \
        "each SVG should show whole, at the size its markup asks for (cut off, missing or resized?)"
    ink = ink_mask(img, DEP_BG, tol=60)
    for (top, left, _, _, _), svg in zip(boxes, svgs):
        at = lambda x, y0, y1, dx=1: ink[top + int(y0):top + int(y1) + 1, left + int(x) - dx:left + int(x) + dx + 1]
        baseline = int(svg["arcs"][0]["y"])
        above = ink[top:top + baseline, left:left + svg["w"]]
        assert above.sum() > 150 * len(svg["arcs"]), "too little drawn in the arcs' region above the words"
        for a in svg["arcs"]:
            apex = a["y"] + 0.75 * (a["top"] - a["y"])      # the cubic curve's highest point
            assert at((a["x1"] + a["x2"]) / 2, apex - 1, apex + 2).any(), f"no stroke at the top of the {a['label']} arc"
            # the label: its letters stand on the arc, a few pixels above the top of the curve
            assert at((a["x1"] + a["x2"]) / 2, apex - 14, apex - 5, dx=8).sum() >= 8, f"the {a['label']} label isn't drawn"
            for x in (a["x1"], a["x2"]):
                assert at(x, a["y"] - 12, a["y"] - 4).any(), f"no stroke where the {a['label']} arc meets a word"
            # the arrowhead: a filled triangle, wider than any stroke, at the dependent's end
            assert at(a["end"], a["y"] - 6, a["y"] - 6, dx=3).sum() >= 5, f"no arrowhead on the {a['label']} arc"
        arrow_xs = {a["end"] for a in svg["arcs"]}
        for x in {a["x1"] for a in svg["arcs"]} | {a["x2"] for a in svg["arcs"]}:
            if x not in arrow_xs:   # an end without an arrow is a plain stroke, narrower than an arrowhead
                row = at(x, baseline - 6, baseline - 6, dx=6)[0]
                lo, hi = 6, 6                       # the run of ink through x (ends of other arcs may lie a few px away)
                while lo > 0 and row[lo - 1]: lo -= 1
                while hi < len(row) - 1 and row[hi + 1]: hi += 1
                assert row[6] and hi - lo + 1 <= 4, f"an arrowhead (or no stroke) where the head word is: {row.astype(int)}"
        for x, y, text in svg["words"]:
            assert at(x, y - 12, y + 2, dx=8).any(), f"the word {text!r} isn't drawn"
        assert not ink[top:top + 10, left:left + svg["w"]].any(), "ink in the SVG's empty top margin"


# ----------------------------------------------------------------------------------------------------- entities
def ent_docs(n: int = 12) -> list:
    "The first `n` WikiANN dev docs with entities and under 90 characters (one line each), all of PER/ORG/LOC among them."
    docs = itertools.islice(read_iob(DATA / "wikiann_en" / "dev.iob"), 500)
    picked = list(itertools.islice((d for d in docs if d.ents and len(d.text) < 90), n))
    assert {e.label_ for d in picked for e in d.ents} == {"PER", "ORG", "LOC"}
    return picked


def ent_counts(docs: list) -> Counter:
    return Counter(e.label_ for d in docs for e in d.ents)


def mark_blobs(img: np.ndarray, color: str) -> list:
    "The highlighted boxes of one colour (anti-aliased specks and the insides of letters left out)."
    return outermost(blobs(color_mask(img, color), min_pixels=40))


@needs_data
def test_entity_page_highlights_every_entity_in_its_label_colour(chromium, tmp_path):
    docs = ent_docs()
    counts = ent_counts(docs)
    html = render(docs, "ent", page=True, jupyter=False)
    size = (1200, 100 + 75 * len(docs))
    img, dom = screenshot_and_dom(html, tmp_path / "ent.png", *size, binary=chromium)
    # the same page with the labels made invisible (same layout): the pixels that differ are the labels' letters
    no_labels = html.replace("</head>", "<style>.nlpnb-label { visibility: hidden }</style></head>")
    label_ink = dark_mask(img) & ~dark_mask(screenshot(no_labels, tmp_path / "ent-no-labels.png", *size, binary=chromium))
    in_marks = np.zeros_like(label_ink)
    assert dark_mask(img).sum() > 3000, "the page looks blank"
    for label, n in counts.items():
        boxes = mark_blobs(img, label_color(label))
        assert len(boxes) == n, f"{label}: {len(boxes)} highlighted boxes in {label_color(label)}, {n} entities"
        for t, l, b, r, _ in boxes:
            assert 20 <= b - t <= 40 and r - l >= 25, f"a {label} highlight is {r - l}x{b - t} px"
            text_cols = np.flatnonzero((dark_mask(img[t:b, l:r]) & ~label_ink[t:b, l:r]).any(axis=0))
            label_cols = np.flatnonzero(label_ink[t:b, l:r].any(axis=0))
            assert len(text_cols) >= 5, f"a {label} highlight without its text"
            assert label_ink[t:b, l:r].sum() >= 20 and label_cols.min() > text_cols.max(), \
                f"a {label} highlight without its label after the text"
            in_marks[t:b, l:r] = True
    assert not (label_ink & ~in_marks).any(), "label letters outside the highlights"

    dom = elements(dom)
    marks = of_class(dom, "nlpnb-ent", "mark")
    gold = [(e.text, e.label_) for d in docs for e in d.ents]
    assert len(marks) == len(gold)
    assert [(m[2][:len(m[2]) - len(lab)], lab) for m, (_, lab) in zip(marks, gold)] == gold
    assert [l[2] for l in of_class(dom, "nlpnb-label")] == [lab for _, lab in gold]


@needs_data
def test_entity_colours_option_recolours_in_the_browser(chromium, tmp_path):
    docs = ent_docs()
    counts = ent_counts(docs)
    html = render(docs, "ent", page=True, options={"colors": {"PER": "#00ff00"}}, jupyter=False)
    img = screenshot(html, tmp_path / "ent-green.png", 1200, 100 + 75 * len(docs), binary=chromium)
    assert label_color("PER", {"PER": "#00ff00"}) == "#00ff00"
    assert len(mark_blobs(img, "#00ff00")) == counts["PER"]
    assert color_mask(img, "#00ff00").sum() >= 300 * counts["PER"]
    assert not color_mask(img, label_color("PER")).any(), "the default PER colour still shows"
    for label in ("ORG", "LOC"): assert len(mark_blobs(img, label_color(label))) == counts[label]


# -------------------------------------------------------------------------------------------------- span groups
CTX = "CONTEXT"   # a made-up label: its colour comes from nlpnb.viz's palette


def span_docs(n: int = 8) -> list:
    """WikiANN dev docs whose entities are 2+ tokens apart, each with a span group 'sc': the entities, plus a
    CONTEXT span per entity, one token longer, that overlaps it (so there are two rows of bars)."""
    out = []
    for doc in itertools.islice(read_iob(DATA / "wikiann_en" / "dev.iob"), 500):
        ents = list(doc.ents)
        if not ents or len(doc.text) > 80 or any(b.start - a.end < 2 for a, b in zip(ents, ents[1:])): continue
        ctx = [Span(doc, e.start - 1, e.end, label=CTX) if e.start else Span(doc, e.start, e.end + 1, label=CTX)
               for e in ents if e.start or e.end < len(doc)]
        if len(ctx) < len(ents): continue
        doc.spans["sc"] = ents + ctx
        out.append(doc)
        if len(out) == n: break
    return out


@needs_data
def test_span_page_draws_one_bar_per_span_and_row_in_the_label_colours(chromium, tmp_path):
    docs = span_docs()
    spans = Counter(s.label_ for d in docs for s in d.spans["sc"])   # label -> spans
    colors = {label: label_color(label) for label in spans}
    assert len(set(colors.values())) == len(colors), colors
    html = render(docs, "span", page=True, jupyter=False)
    img, dom = screenshot_and_dom(html, tmp_path / "span.png", 1200, 100 + 110 * len(docs), binary=chromium)
    assert dark_mask(img).sum() > 2000, "the page looks blank"
    ctx = color_mask(img, colors[CTX])
    dark = dark_mask(img)
    for label, color in colors.items():
        bars = outermost(blobs(color_mask(img, color), min_pixels=40))
        # one unbroken bar per span, over all its tokens and the gaps between them, with the label written in it
        assert len(bars) == spans[label], f"{label}: {len(bars)} bars in {color}, {spans[label]} {label} spans"
        labelled = sum(dark[t:b, l:r].sum() >= 15 for t, l, b, r, _ in bars)
        assert labelled == spans[label], f"{label}: {labelled} bars with a label written in them, {spans[label]} spans"
        for t, l, b, r, _ in bars:
            assert 15 <= b - t <= 20 and r - l >= 4, f"a {label} bar is {r - l}x{b - t} px"
            if label != CTX:   # the entity's row is right under the overlapping CONTEXT span's row
                above = ctx[t - 17:t, l:r]    # (the CONTEXT label's letters cover some of it)
                assert above.mean() > 0.5 and above[-3:].any(), f"no {CTX} bar right above a {label} bar"

    dom = elements(dom)
    labels = [e[2] for e in of_class(dom, "nlpnb-label")]
    assert Counter(labels) == Counter(s.label_ for d in docs for s in d.spans["sc"])
    cells, words = of_class(dom, "nlpnb-token"), [t.text for d in docs for t in d]
    assert [c[2][:len(w)] for c, w in zip(cells, words)] == words and len(cells) == len(words)


# ----------------------------------------------------------------------------------------------- training report
def chart_areas(img: np.ndarray, axis: str = "#888888", min_height: int = 100) -> List[tuple]:
    """The plot areas of the report's charts, as (top, left, bottom, right), top to bottom then left to right: each
    y axis is a vertical run of axis-grey pixels; its x axis runs right from its foot, over any line drawn on it."""
    mask, areas = color_mask(img, axis), []
    for x in np.nonzero(mask.sum(axis=0) >= min_height)[0]:
        col = np.concatenate([[False], mask[:, x], [False]]).astype(np.int8)
        runs = []                                       # the axis's runs, joined over data points drawn on it
        for top, bottom in zip(np.nonzero(np.diff(col) == 1)[0], np.nonzero(np.diff(col) == -1)[0]):
            if runs and top - runs[-1][1] <= 8: runs[-1][1] = bottom
            else: runs.append([top, bottom])
        for top, bottom in runs:
            if bottom - top < min_height or any(abs(a[1] - x) <= 2 and abs(a[0] - top) <= 2 for a in areas): continue
            def run(row: int) -> int:
                end = x
                while end + 1 < img.shape[1] and (img[row, end + 1] < 250).any(): end += 1
                return end
            right = max(run(r) for r in range(bottom - 3, min(bottom + 3, img.shape[0])))
            areas.append((int(top), int(x), int(bottom), int(right)))
    return sorted(areas, key=lambda a: (a[0] // 50, a[1]))


@needs_data
def test_training_report_draws_its_charts_and_tables(chromium, tmp_path):
    "The report.html a real (short) training run leaves: each chart's lines in their colours, the table, the summary."
    import nlpnb
    from nlpnb.init_config import init_config
    from nlpnb.tokens import DocBin
    from nlpnb.training.report import PALETTE
    def corpus(split: str, n_docs: int) -> str:
        docs = list(itertools.islice(read_conllu(DATA / "ud_en_ewt" / f"en_ewt-ud-{split}.conllu", n_sents=10), n_docs))
        DocBin(docs=docs).to_disk(tmp_path / f"{split}.nlpnb")
        return str(tmp_path / f"{split}.nlpnb")
    overrides = {"paths.train": corpus("train", 20), "paths.dev": corpus("dev", 5), "training.max_steps": 30,
                 "training.eval_frequency": 6, "components.tok2vec.model.encode.width": 32,
                 "components.tok2vec.model.embed.width": 32}
    run = nlpnb.train(init_config("en", ["tagger"]), tmp_path / "out", overrides, monitor=False)
    assert [r["step"] for r in run.records] == [0, 6, 12, 18, 24, 30]
    page = tmp_path / "out" / "report.html"
    img, dom = screenshot_and_dom(page, tmp_path / "report.png", 1200, 1200, binary=chromium)
    html = page.read_text()

    # three charts (losses of tok2vec and tagger; tag_acc, which is the SCORE; words/s), each series a line in its colour
    charts = chart_areas(img)
    assert len(charts) == 3, f"{len(charts)} charts drawn"
    # (the speed line starts at the second evaluation, step 6 of 0-30)
    for (top, left, bottom, right), n_series, span in zip(charts, (2, 1, 1), (0.8, 0.8, 0.7)):
        for color in PALETTE[:n_series]:
            line = color_mask(img[top - 5:bottom + 5, left:right + 5], color)
            assert line.sum() > 150 and np.ptp(np.nonzero(line)[1]) > span * (right - left), \
                f"the {color} line doesn't run across the chart at {top},{left}"
    assert len(re.findall(r"<polyline", html)) == 4
    # the words: summary, titles, legends, a table row per evaluation with the best highlighted
    texts = " ".join(e[2] for e in elements(dom) if e[2])
    for words in ("Loss per step, by component", "mean loss per step", "Scores on the dev set", "Training speed", "LOSS TAGGER", "TAG_ACC", "best SCORE"):
        assert words in dom, words
    assert dom.count('class="nlpnb-eval"') == len(run.records)
    assert blobs(color_mask(img, "#e6f4ea"), min_pixels=200), "the best evaluation's row isn't highlighted"
    assert dark_mask(img).sum() > 3000 and texts
