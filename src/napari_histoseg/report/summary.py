"""The report's numbers as labelled, formatted text: one list for the CLI, the dock and HTML.

>>> summary_items(report)[:2]                  # doctest: +SKIP
[('Category (CAMELYON17)', 'micro-metastasis'), ('Largest lesion', '1.420 mm across, 0.912 mm²')]
"""

from __future__ import annotations

from napari_histoseg.report.slide_report import Lesion, SlideReport

def mm2(value: float) -> str:
    """An area in mm², with enough digits for a single cell cluster (1e-4 mm² = 100 µm²)."""
    return f"{value:.4f} mm²" if value < 10 else f"{value:.2f} mm²"


def lesion_text(lesion: Lesion | None) -> str:
    if lesion is None:
        return "none"
    return f"{lesion.diameter_mm:.3f} mm across, {mm2(lesion.area_mm2)}"


def summary_items(report: SlideReport) -> list[tuple[str, str]]:
    """(label, value) pairs, in reading order."""
    areas = report.areas
    items = [("Category (CAMELYON17)", report.category),
             ("Largest lesion", lesion_text(report.largest)),
             ("Lesions", str(len(report.lesions))),
             ("Tumour area", mm2(areas.tumour_mm2)),
             ("Tissue area", f"{mm2(areas.tissue_mm2)} (from {areas.tissue_source})"),
             ("Tumour fraction of tissue", f"{100 * areas.tumour_fraction:.2f} %")]
    if len(report.class_names) > 2:
        items += [(f"  {name}", mm2(area)) for name, area in list(areas.by_class.items())[1:]]
    if not report.complete:
        items.append(("Not computed", f"{mm2(areas.tissue_not_computed_mm2)} of tissue; "
                                      "the numbers cover the computed part only"))
    items += provenance_items(report) + [
        ("Pixel size", f"{report.mask_mpp[0]:.4g} x {report.mask_mpp[1]:.4g} µm (slide "
                       f"{report.slide_mpp[0]:.4g} µm/px)"),
        ("Slide", report.slide or "(not recorded)"), ("Workspace", report.workspace),
        ("Report made", report.created)]
    return items


def provenance_items(report: SlideReport) -> list[tuple[str, str]]:
    p = report.provenance
    model = f"{p.model} (sha256 {p.model_sha256[:12]})" if p.model_sha256 else \
        f"{p.model} (untrained weights: no hash)"
    runs = (f"{p.runs} run(s), {p.run_seconds:.1f} s in all, last {p.last_run}"
            + (f" on {p.device}" if p.device else "")) if p.runs else "no run recorded"
    corrected = (f"yes: {p.corrections} edit(s), {mm2(p.corrected_mm2)} changed, by "
                 f"{', '.join(p.authors)}, last {p.last_correction}") if p.corrected else "no"
    items = [("Model", model), ("Runs", runs), ("Corrected by a person", corrected)]
    return items + ([("Note", p.note)] if p.note else [])
