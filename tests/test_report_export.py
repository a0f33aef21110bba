"""The report's CSV, HTML page and figure, and ``histoseg report`` on one and several slides."""

from __future__ import annotations

import base64
import csv
import io
import re

import numpy as np
import pytest

from napari_histoseg.cli import main
from napari_histoseg.report.html_page import report_html, write_html
from napari_histoseg.report.slide_report import build_report
from napari_histoseg.report.tables import lesion_rows, write_report_csv

from .report_data import FUSION_CLASSES, disc, write_results


def read_csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.fixture
def workspace(tmp_path):
    mask = np.zeros((600, 800), np.uint8)
    mask[disc(mask.shape, (300, 300), 200)] = 1          # 400 µm across at 1 µm/px
    mask[50:60, 700:760] = 1
    write_results(tmp_path / "case.histoseg", mask, mpp=0.5, downsample=2.0)
    return tmp_path / "case.histoseg"


def test_csv_holds_the_summary_and_every_lesion(workspace, tmp_path):
    report = build_report(workspace)
    summary, lesions = write_report_csv(report, tmp_path / "out" / "case.csv")
    (row,) = read_csv(summary)
    assert row["category"] == "micro-metastasis" and row["lesions"] == "2"
    assert float(row["largest_diameter_mm"]) == pytest.approx(0.4, abs=0.001)
    assert float(row["tumour_mm2"]) == pytest.approx(report.areas.tumour_mm2, rel=1e-5)
    rows = read_csv(lesions)
    assert lesions.name == "case-lesions.csv" and [r["rank"] for r in rows] == ["1", "2"]
    assert float(rows[0]["centroid_y_px"]) == pytest.approx(600, abs=1)   # level-0 slide px


def test_fusion_lesions_carry_both_tumour_classes(tmp_path):
    mask = np.zeros((64, 64), np.uint8)
    mask[10:20, 10:20], mask[20:30, 10:20] = 1, 2
    write_results(tmp_path / "ws", mask, classes=FUSION_CLASSES)
    (row,) = lesion_rows(build_report(tmp_path / "ws"))
    assert row["carcinoma in situ_mm2"] == row["invasive carcinoma_mm2"] == pytest.approx(1e-4)


def test_html_page_is_one_file_with_the_numbers_and_the_figure(workspace, tmp_path):
    report = build_report(workspace)
    page = write_html(report, tmp_path / "case.html").read_text(encoding="utf-8")
    assert "micro-metastasis" in page and f"{report.largest.diameter_mm:.3f}" in page
    encoded = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(encoded)))
    pixels = np.asarray(image.convert("RGB"))
    assert image.size[0] > 600
    r, g, b = (pixels[..., i].astype(int) for i in range(3))
    tumour = (r > 200) & (r - g > 90) & (r - b > 90)      # the mask's red over white
    assert tumour.sum() > 20_000                          # the 0.4 mm disc, drawn large


def test_text_in_the_page_is_escaped(workspace):
    report = build_report(workspace)
    from dataclasses import replace

    page = report_html(replace(report, slide="/x/<script>.svs"), None)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_cli_prints_one_report(workspace, capsys):
    assert main(["report", str(workspace)]) == 0
    out = capsys.readouterr().out
    assert "micro-metastasis" in out and "lesion   1:" in out


def test_cli_batch_summary_has_one_row_per_slide_and_goes_on_after_a_failure(tmp_path, workspace):
    other = tmp_path / "other.histoseg"
    write_results(other, np.zeros((100, 100), np.uint8))
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "batch.csv"
    code = main(["report", str(workspace), str(empty), str(other), "--csv", str(out),
                 "--lesions-csv", str(tmp_path / "lesions.csv"), "--html", str(tmp_path / "pages")])
    assert code == 2
    rows = read_csv(out)
    assert [r["slide"] for r in rows] == ["case.histoseg", "empty", "other.histoseg"]
    assert [r["category"] for r in rows] == ["micro-metastasis", "", "none"]
    assert "no segmentation results" in rows[1]["error"]
    assert len(read_csv(tmp_path / "lesions.csv")) == 2
    assert sorted(p.name for p in (tmp_path / "pages").iterdir()) == [
        "case.histoseg.report.html", "other.histoseg.report.html"]


def test_cli_csv_to_stdout(workspace, capsys):
    assert main(["report", str(workspace), "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1 and rows[0]["category"] == "micro-metastasis"
