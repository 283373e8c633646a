"""How long from dropping a photo on the window to ranked results, on a 10k-photo library?

Builds a library of N photos (default 10,000) without embedding them all: the 1,000 Corel
photos are embedded for real once (cached like bench/search.py), and each library entry is a
symlink to a Corel photo with that photo's vector plus small noise, inserted through the app's
own repository. Then the real main window (offscreen) gets real file drops of Corel photos and
"Find similar" requests, and the time until the results model is filled is measured on the GUI
thread's clock. Bar: results in under a second.

    python bench/gui_query.py [--photos 10000] [--queries 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from search import load_model, noisy_copies, source_vectors  # noqa: E402  (bench/search.py)

from photofind.core.library import Library  # noqa: E402
from photofind.gui.app import make_application, open_library  # noqa: E402
from photofind.gui.main_window import MainWindow  # noqa: E402

BAR_S = 1.0


def build_library(data_dir: Path, photos_dir: Path, corel: list[Path], n: int) -> Library:
    model = load_model()
    base, how = source_vectors(corel, model)
    print(f"vectors: {how}")
    copies = -(-n // len(corel))
    rng = np.random.default_rng(0)
    vectors = np.concatenate([base, noisy_copies(base, copies - 1, 0.95, rng)])[:n]
    sources = [corel[i % len(corel)] for i in range(n)]
    lib = open_library(data_dir, device="cpu")
    folder = lib.add_folder(photos_dir)
    model_id = lib.model_info.model_id
    t0 = time.perf_counter()
    with lib.repo.write() as w:
        for i, (src, vec) in enumerate(zip(sources, vectors)):
            link = photos_dir / f"{i:06d}-{src.name}"
            link.symlink_to(src)
            st = src.stat()
            photo_id = w.upsert_photo(
                folder_id=folder.id, path=str(link), size=st.st_size, mtime_ns=st.st_mtime_ns,
                fingerprint=f"bench-{i}", status="ok", width=384, height=256,
            )
            w.put_embedding(photo_id, model_id, vec)
    print(f"library: {n} photos inserted in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    lib.run_index()  # the index job builds the search indexes from the DB, as a first start would
    print(f"vector index built in {time.perf_counter() - t0:.1f} s")
    return lib


def drop(widget, path: Path) -> None:  # type: ignore[no-untyped-def]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    widget.dropEvent(
        QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    )


def wait_for_results(app: QApplication, window: MainWindow, started: float, timeout: float = 30.0) -> float:
    while time.perf_counter() - started < timeout:
        app.processEvents()
        results = window.results
        if results.model.mode == "search" and results.model.rowCount() > 0 and not results.searching:
            return time.perf_counter() - started
        time.sleep(0.001)
    raise TimeoutError("no results within 30 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=20)
    args = parser.parse_args(argv)
    corel = sorted((REPO / ".." / "shared" / "data" / "corel1k" / "images").resolve().glob("*.jpg"), key=lambda p: int(p.stem))
    app = make_application()
    with tempfile.TemporaryDirectory(prefix="photofind-gui-query-") as tmp:
        photos_dir = Path(tmp) / "photos"
        photos_dir.mkdir()
        lib = build_library(Path(tmp) / "data", photos_dir, corel, args.photos)
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(lib, settings, watch=False, rescan_on_start=False)
        window.resize(1280, 800)
        window.show()
        app.processEvents()
        rng = np.random.default_rng(1)
        queries = [corel[i] for i in rng.choice(len(corel), args.queries, replace=False)]
        # Warm-up: the first query loads the ONNX session.
        t0 = time.perf_counter()
        drop(window.query_panel, queries[0])
        first = wait_for_results(app, window, t0)
        drops, similar = [], []
        for q in queries:
            t0 = time.perf_counter()
            drop(window.query_panel, q)
            drops.append(wait_for_results(app, window, t0))
            top = window.results.model.item(0)
            t0 = time.perf_counter()
            window.results.find_similar(top.photo_id, top.path)
            similar.append(wait_for_results(app, window, t0))
        window.shutdown()
        lib.close()
    d, s = np.array(drops) * 1e3, np.array(similar) * 1e3
    print(f"\n== {args.photos} photos, {args.queries} queries (offscreen window, this machine)")
    print(f"  first drop (loads the model)     {first * 1e3:7.0f} ms")
    print(f"  drop a photo -> results          p50 {np.median(d):6.0f} ms   p95 {np.percentile(d, 95):6.0f} ms   max {d.max():6.0f} ms")
    print(f"  Find similar -> results          p50 {np.median(s):6.0f} ms   p95 {np.percentile(s, 95):6.0f} ms   max {s.max():6.0f} ms")
    ok = max(d.max(), s.max()) / 1e3 < BAR_S
    print(f"  bar: results in under {BAR_S:.0f} s: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
