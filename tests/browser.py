"""Headless Chromium for the tests: find (or, on a Debian CI machine, apt-install) a browser, screenshot a page into
a numpy array, dump its DOM, and small pixel helpers (colour masks, connected blobs).

Generic on purpose: any self-contained HTML page (rendered parses, a training report with inline SVG charts) can be
opened with `screenshot(html_or_path, png_path)`. The pytest fixture `chromium` lives in `tests/conftest.py`."""
from __future__ import annotations

import functools, os, shutil, signal, struct, subprocess, tempfile, zlib
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
NO_INSTALL_ENV = "NLPNB_NO_BROWSER_INSTALL"
SKIP_MESSAGE = ("headless Chromium not available: install Debian's chromium package (apt-get install chromium) "
                "to run the browser tests")
INSTALL_TIMEOUT = 300           # seconds for each of apt-get update and install (the install takes ~40 s)
RUN_TIMEOUT = 60                # seconds for one headless Chromium run
install_log: List[str] = []     # what an automatic install attempt said, for the skip message

Page = Union[str, os.PathLike]


def find_chromium() -> Optional[str]:
    "The path of the first Chromium/Chrome binary on PATH, or None."
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def _run(cmd: Sequence[str], timeout: float, env: Optional[dict] = None) -> subprocess.CompletedProcess:
    "Run `cmd` in its own process group; on timeout kill that group (Chromium forks helpers) and raise TimeoutExpired."
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                            env=env, start_new_session=True)
    try: out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try: os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError: pass
        out, err = proc.communicate()
        raise subprocess.TimeoutExpired(cmd, timeout, out, err) from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def install_chromium(timeout: float = INSTALL_TIMEOUT) -> bool:
    "`apt-get update` + install Debian's chromium and fonts-liberation (quiet, non-interactive); True if it worked."
    if os.environ.get(NO_INSTALL_ENV):
        install_log.append(f"automatic install disabled by {NO_INSTALL_ENV}"); return False
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        install_log.append("automatic install needs root and apt-get"); return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=120"]
    steps = [["apt-get", "-qq", *lock, "update"],
             # fonts-liberation (Arial's metrics) is only a Recommends of chromium, and the pages ask for Arial
             ["apt-get", "-qq", *lock, "install", "-y", "--no-install-recommends", "chromium", "fonts-liberation"]]
    for cmd in steps:
        try: res = _run(cmd, timeout, env)
        except subprocess.TimeoutExpired:
            install_log.append(f"`{' '.join(cmd)}` timed out after {timeout:.0f} s"); return False
        if res.returncode != 0:
            install_log.append(f"`{' '.join(cmd)}` failed ({res.returncode}): {(res.stderr or res.stdout).strip()[-500:]}")
            return False
    return True


@functools.lru_cache(maxsize=None)
def find_or_install_chromium() -> Optional[str]:
    "A Chromium binary on PATH; if none, try `install_chromium` (root + apt-get, unless $NLPNB_NO_BROWSER_INSTALL). Cached."
    path = find_chromium()
    if path is None and install_chromium(): path = find_chromium()
    return path


def skip_reason() -> str:
    "The message to skip browser tests with, plus why an automatic install didn't happen."
    return SKIP_MESSAGE + (f" ({'; '.join(install_log)})" if install_log else "")


# ---------------------------------------------------------------------------------------------------------------- PNG
def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> np.ndarray:
    "Undo the per-row PNG filters (None, Sub, Up, Average, Paeth) of 8-bit samples; rows of `width * bpp` bytes."
    stride = width * bpp
    data = np.frombuffer(raw, np.uint8)
    if data.size != height * (stride + 1): raise ValueError(f"PNG data has {data.size} bytes, expected {height * (stride + 1)}")
    data = data.reshape(height, stride + 1)
    out = np.zeros((height, stride), np.uint8)
    prev = np.zeros(stride, np.uint8)
    for y in range(height):
        kind, line = data[y, 0], data[y, 1:]
        if kind == 0: cur = line.copy()
        elif kind == 1:     # Sub: running sum per channel, modulo 256
            cur = np.cumsum(line.reshape(width, bpp), axis=0, dtype=np.uint8).reshape(stride)
        elif kind == 2: cur = line + prev
        elif kind in (3, 4):  # Average, Paeth: each byte needs the reconstructed byte to its left, so go byte by byte
            cur_b, up, filt = bytearray(stride), prev.tobytes(), line.tobytes()
            for i in range(stride):
                a = cur_b[i - bpp] if i >= bpp else 0
                b = up[i]
                if kind == 3: cur_b[i] = (filt[i] + ((a + b) >> 1)) & 255; continue
                c = up[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                cur_b[i] = (filt[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            cur = np.frombuffer(bytes(cur_b), np.uint8)
        else: raise ValueError(f"unknown PNG filter type {kind} in row {y}")
        out[y] = prev = cur
    return out


def decode_png(data: bytes) -> np.ndarray:
    "An 8-bit, non-interlaced grey/RGB/RGBA PNG as a uint8 array (H, W, 3); alpha is composited on white."
    if data[:8] != b"\x89PNG\r\n\x1a\n": raise ValueError("not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR": header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT": idat.append(body)
        elif kind == b"IEND": break
    if header is None: raise ValueError("PNG without an IHDR chunk")
    width, height, depth, color, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"unsupported PNG: bit depth {depth}, colour type {color}, interlace {interlace}")
    px = _unfilter(zlib.decompress(b"".join(idat)), width, height, channels).reshape(height, width, channels)
    if channels in (2, 4):   # alpha over white
        alpha = px[..., -1:].astype(np.float32) / 255
        px = np.round(px[..., :-1] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    return np.repeat(px, 3, axis=2) if px.shape[2] == 1 else np.ascontiguousarray(px)


# ------------------------------------------------------------------------------------------------------------ browser
def _page_url(page: Page, tmp: Path) -> str:
    "A URL for `page`: a URL as is, a file path as file://, HTML markup (a str starting with '<') written to `tmp`."
    if isinstance(page, str):
        if page.startswith(("http://", "https://", "file://", "data:")): return page
        if page.lstrip().startswith("<"):
            tmp.write_text(page, encoding="utf8"); return tmp.resolve().as_uri()
    path = Path(page)
    if not path.is_file(): raise FileNotFoundError(f"no page to open at {path}")
    return path.resolve().as_uri()


def _chromium_args(binary: str, profile: str) -> List[str]:
    return [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
            "--force-device-scale-factor=1", "--force-color-profile=srgb", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--mute-audio", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-default-apps", f"--user-data-dir={profile}"]


def _binary(binary: Optional[str]) -> str:
    binary = binary or find_or_install_chromium()
    if binary is None: raise RuntimeError(skip_reason())
    return binary


def _open(page: Page, png_path: Optional[Path], width: int, height: int, dom: bool, binary: Optional[str],
          timeout: float) -> Tuple[Optional[np.ndarray], Optional[str]]:
    "One headless Chromium run on `page`: the viewport's screenshot (if `png_path`) and the DOM (if `dom`)."
    with tempfile.TemporaryDirectory(prefix="nlpnb-chromium-") as profile:
        if png_path is not None:
            png_path.parent.mkdir(parents=True, exist_ok=True)
            if png_path.exists(): png_path.unlink()
        url = _page_url(page, png_path.with_suffix(".html") if png_path is not None else Path(profile) / "page.html")
        cmd = _chromium_args(_binary(binary), profile) + [f"--window-size={width},{height}"]
        if png_path is not None: cmd.append(f"--screenshot={png_path.resolve()}")
        if dom: cmd.append("--dump-dom")
        try: res = _run(cmd + [url], timeout)
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"headless Chromium took over {timeout:.0f} s on {url}; stderr:\n{_tail(e.stderr)}") from None
    img = text = None
    if png_path is not None:
        if not png_path.is_file() or png_path.stat().st_size == 0:
            raise RuntimeError(f"headless Chromium wrote no screenshot of {url} (exit {res.returncode}); stderr:\n{_tail(res.stderr)}")
        img = decode_png(png_path.read_bytes())
        if img.shape[:2] != (height, width):
            raise RuntimeError(f"the screenshot is {img.shape[1]}x{img.shape[0]}, asked for {width}x{height}")
    if dom:
        if "<html" not in res.stdout:
            raise RuntimeError(f"headless Chromium dumped no DOM of {url} (exit {res.returncode}); stderr:\n{_tail(res.stderr)}")
        text = res.stdout
    return img, text


def screenshot(page: Page, png_path: Union[str, os.PathLike], width: int = 1200, height: int = 800,
               binary: Optional[str] = None, timeout: float = RUN_TIMEOUT) -> np.ndarray:
    """Open `page` (HTML markup, a file path or a URL) in headless Chromium with a `width` x `height` window, write
    the screenshot of that viewport to `png_path` and return its pixels, uint8 (height, width, 3). Markup is saved
    next to the PNG (same name, .html) so a failing test leaves both behind. Raises RuntimeError with Chromium's
    stderr when no screenshot comes out."""
    return _open(page, Path(png_path), width, height, False, binary, timeout)[0]


def screenshot_and_dom(page: Page, png_path: Union[str, os.PathLike], width: int = 1200, height: int = 800,
                       binary: Optional[str] = None, timeout: float = RUN_TIMEOUT) -> Tuple[np.ndarray, str]:
    "`screenshot` and `dump_dom` of `page` from a single Chromium run (each run costs a second or two)."
    return _open(page, Path(png_path), width, height, True, binary, timeout)


def dump_dom(page: Page, binary: Optional[str] = None, timeout: float = RUN_TIMEOUT) -> str:
    "The DOM of `page` (markup, file path or URL) as serialized by headless Chromium after loading it (`--dump-dom`)."
    return _open(page, None, 1200, 800, True, binary, timeout)[1]


def _tail(text: Optional[str], n: int = 3000) -> str:
    "The end of Chromium's stderr, without its harmless D-Bus complaints."
    lines = [l for l in (text or "").splitlines() if "dbus" not in l.lower()]
    return "\n".join(lines)[-n:] or "(nothing)"


# ------------------------------------------------------------------------------------------------------------ pixels
def hex_rgb(color: str) -> Tuple[int, int, int]:
    "'#aa9cfc' or '#abc' -> (170, 156, 252)."
    h = color.strip().lstrip("#")
    if len(h) == 3: h = "".join(c * 2 for c in h)
    if len(h) != 6: raise ValueError(f"not a hex colour: {color!r}")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


def color_mask(img: np.ndarray, color: Union[str, Sequence[int]], tol: int = 0) -> np.ndarray:
    "Boolean (H, W): pixels within `tol` (per channel) of `color` (hex string or RGB triple)."
    rgb = np.array(hex_rgb(color) if isinstance(color, str) else color, np.int16)
    return (np.abs(img.astype(np.int16) - rgb) <= tol).all(axis=2)


def blobs(mask: np.ndarray, min_pixels: int = 1) -> List[Tuple[int, int, int, int, int]]:
    """The 4-connected regions of `mask` with at least `min_pixels` pixels, as (top, left, bottom, right, n_pixels)
    (bottom/right exclusive), sorted top to bottom, left to right. Works on horizontal runs, so it's fast on pages."""
    parent: List[int] = []
    def find(i: int) -> int:
        while parent[i] != i: parent[i] = parent[parent[i]]; i = parent[i]
        return i
    runs: List[Tuple[int, int, int]] = []   # (row, start, end)
    prev: List[int] = []                    # run indices of the previous row
    for y in range(mask.shape[0]):
        row = np.concatenate(([False], mask[y], [False]))
        edges = np.flatnonzero(row[1:] != row[:-1])
        cur, j = [], 0
        for s, e in zip(edges[::2].tolist(), edges[1::2].tolist()):
            k = len(runs); runs.append((y, s, e)); parent.append(k); cur.append(k)
            while j < len(prev) and runs[prev[j]][2] <= s: j += 1     # runs above that end before this one starts
            for p in prev[j:]:                                         # (both rows' runs are sorted by start)
                if runs[p][1] >= e: break
                parent[find(k)] = find(p)
        prev = cur
    boxes: dict = {}
    for k, (y, s, e) in enumerate(runs):
        r = find(k)
        t, l, b, rt, n = boxes.get(r, (y, s, y + 1, e, 0))
        boxes[r] = (min(t, y), min(l, s), max(b, y + 1), max(rt, e), n + e - s)
    return sorted(b for b in boxes.values() if b[4] >= min_pixels)


def ink_mask(img: np.ndarray, background: Union[str, Sequence[int]] = "#ffffff", tol: int = 24) -> np.ndarray:
    "Boolean (H, W): pixels that differ from `background` by more than `tol` in some channel (drawn strokes, text)."
    return ~color_mask(img, background, tol)


def outermost(boxes: Sequence[Tuple[int, int, int, int, int]]) -> List[Tuple[int, int, int, int, int]]:
    "The `blobs` not inside another one's bounding box (drops, say, the holes of glyphs drawn on a coloured box)."
    inside = lambda a, b: a is not b and b[0] <= a[0] and b[1] <= a[1] and a[2] <= b[2] and a[3] <= b[3]
    return [a for a in boxes if not any(inside(a, b) for b in boxes)]


def dark_mask(img: np.ndarray, below: int = 128) -> np.ndarray:
    "Boolean (H, W): dark pixels (every channel under `below`): text and strokes drawn in black or near it."
    return (img < below).all(axis=2)
