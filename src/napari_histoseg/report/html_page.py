"""The one-page HTML report: numbers, the overview figure embedded as PNG, the lesion table.

Plain HTML 4 with inline styles and the figure as a ``data:image/png;base64`` URI, so the
page is one self-contained file that any browser (and Qt's rich-text engine) shows and
prints on one page. Text is escaped with :func:`html.escape`. The file is written whole
or not at all (temporary file, fsync, rename).
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from napari_histoseg.io.atomic import atomic_write_bytes
from napari_histoseg.report.slide_report import SlideReport
from napari_histoseg.report.summary import mm2, summary_items

#: Lesions listed on the page (the rest are in the CSV), so that it prints on one page.
PAGE_LESIONS = 10
STYLE = ("body{font-family:sans-serif;font-size:10pt;margin:16px;color:#111}"
         "h1{font-size:15pt;margin:0 0 4px}table{border-collapse:collapse;margin:6px 0}"
         "td,th{border:1px solid #bbb;padding:2px 6px;text-align:left}"
         "th{background:#eee}td.n{text-align:right}p.small{font-size:8pt;color:#555}")


def report_html(report: SlideReport, figure_png: bytes | None) -> str:
    """The page as text; ``figure_png`` from :func:`.figure.overview_png` (None: no figure)."""
    rows = "".join(f"<tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>"
                   for label, value in summary_items(report))
    figure = ("" if figure_png is None else
              f'<p><img src="data:image/png;base64,{base64.b64encode(figure_png).decode()}" '
              f'width="900" alt="Slide thumbnail and tumour overlay"></p>')
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>Slide report: {escape(report.name)}</title><style>{STYLE}</style></head>"
            f"<body><h1>Slide report: {escape(report.name)}</h1>"
            f"<table>{rows}</table>{figure}{_lesion_table(report)}"
            f"<p class='small'>Measured on the segmentation mask at its full resolution "
            f"({report.mask_mpp[1]:.4g} µm/px). Longest diameter: maximum Feret diameter of the "
            f"lesion's pixels. CAMELYON17: macro-metastasis &gt; 2 mm, micro-metastasis &gt; "
            f"0.2 mm up to 2 mm, isolated tumour cells up to 0.2 mm. Model output, to be "
            f"checked by a pathologist; napari-histoseg.</p></body></html>")


def _lesion_table(report: SlideReport) -> str:
    if not report.lesions:
        return "<p>No lesions.</p>"
    head = "<tr><th>#</th><th>Longest diameter (mm)</th><th>Area</th><th>Centre (y, x px)</th></tr>"
    body = "".join(
        f"<tr><td class='n'>{lesion.rank}</td><td class='n'>{lesion.diameter_mm:.3f}</td>"
        f"<td class='n'>{mm2(lesion.area_mm2)}</td>"
        f"<td class='n'>{lesion.centroid[0]:.0f}, {lesion.centroid[1]:.0f}</td></tr>"
        for lesion in report.lesions[:PAGE_LESIONS])
    more = len(report.lesions) - PAGE_LESIONS
    note = f"<p class='small'>{more} smaller lesions are in the CSV.</p>" if more > 0 else ""
    title = "<h2 style='font-size:12pt'>Lesions, longest first</h2>"
    return f"{title}<table>{head}{body}</table>{note}"


def write_html(report: SlideReport, path: str | Path, max_side: int = 1024) -> Path:
    """Render the figure and write the page to ``path``; returns the path."""
    from napari_histoseg.report.figure import overview_png

    page = report_html(report, overview_png(report, max_side))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(Path(path), page.encode("utf-8"))
