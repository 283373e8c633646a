"""The app icon, drawn as SVG in code so the package needs no data files at run time.

``python -m photofind.gui.icon resources/`` writes ``photofind.svg`` and ``photofind.png``
(256 px) for the desktop file and the installers.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">
  <defs>
    <linearGradient id="bg" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#3b82c4"/>
      <stop offset="1" stop-color="#1d4f87"/>
    </linearGradient>
    <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#bfe3ff"/>
      <stop offset="1" stop-color="#fef6da"/>
    </linearGradient>
  </defs>
  <rect x="8" y="8" width="240" height="240" rx="48" fill="url(#bg)"/>
  <g transform="rotate(-6 110 112)">
    <rect x="34" y="46" width="152" height="124" rx="10" fill="#ffffff"/>
    <rect x="44" y="56" width="132" height="96" rx="4" fill="url(#sky)"/>
    <circle cx="146" cy="80" r="12" fill="#f6b73c"/>
    <path d="M44 152 L86 98 L112 128 L132 108 L176 152 Z" fill="#3f9b5a"/>
    <path d="M86 98 L96 111 L80 118 Z" fill="#ffffff" opacity="0.7"/>
  </g>
  <circle cx="170" cy="160" r="36" fill="#ffffff" fill-opacity="0.25" stroke="#ffffff" stroke-width="12"/>
  <line x1="196" y1="186" x2="226" y2="216" stroke="#ffffff" stroke-width="18" stroke-linecap="round"/>
</svg>
"""


def render(size: int) -> QImage:
    renderer = QSvgRenderer(QByteArray(SVG.encode()))
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def app_icon() -> QIcon:
    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256):
        icon.addPixmap(QPixmap.fromImage(render(size)))
    return icon


def write_resources(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "photofind.svg").write_text(SVG, encoding="utf-8")
    render(256).save(str(folder / "photofind.png"), "PNG")


if __name__ == "__main__":  # pragma: no cover
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication(sys.argv[:1])
    write_resources(Path(sys.argv[1] if len(sys.argv) > 1 else "resources"))
