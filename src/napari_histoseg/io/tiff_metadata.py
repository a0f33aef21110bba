"""What a TIFF-family slide says about its scan: µm/px, objective power, vendor, properties.

Read with tifffile; OME-XML is parsed with defusedxml (the XML comes from the
file, so it is untrusted). Every µm/px goes through ``io.mpp``'s validator.
For OME files the µm/px is that of the OME ``<Image>`` holding the series
histoseg shows, not of the first ``<Pixels>`` in the file (which is often a
macro or label image).
"""

from __future__ import annotations

import math

import tifffile
from defusedxml import ElementTree

from napari_histoseg.io.mpp import MppReading, reading_from_metadata

RESOLUTION_UNITS = {2: "inch", 3: "centimeter", 4: "millimeter", 5: "micrometer"}
MICRONS_PER_UNIT = {"inch": 25400.0, "centimeter": 10000.0, "millimeter": 1000.0,
                    "micrometer": 1.0}
OME_UNITS_IN_UM = {"µm": 1.0, "um": 1.0, "nm": 1e-3, "mm": 1e3, "cm": 1e4, "m": 1e6}


def read_mpp(tif: tifffile.TiffFile, series: tifffile.TiffPageSeries) -> MppReading:
    """Level-0 µm/px (y, x) of ``series`` from the vendor metadata, else resolution tags."""
    if tif.is_svs:
        mpp = svs_fields(tif.pages[0].description).get("MPP")
        if mpp is not None:
            return reading_from_metadata(mpp, mpp, "Aperio MPP field")
    if tif.is_ome and tif.ome_metadata:
        reading = ome_mpp(tif.ome_metadata, series)
        if reading is not None:
            return reading
    return tag_mpp(series.levels[0].keyframe)


def svs_fields(description: str) -> dict[str, str]:
    """The ``key = value`` fields of an Aperio ImageDescription."""
    fields = {}
    for part in description.split("|")[1:]:
        key, sep, value = part.partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def ome_mpp(ome_xml: str, series: tifffile.TiffPageSeries) -> MppReading | None:
    """µm/px of the OME ``<Image>`` matching ``series``, or None if it states none."""
    try:
        root = ElementTree.fromstring(ome_xml)
    except Exception:  # noqa: BLE001 - malformed or hostile XML: no µm/px from it
        return None
    pixels = _ome_pixels_of(root, series)
    if pixels is None or "PhysicalSizeX" not in pixels.attrib:
        return None
    name = f"OME PhysicalSize of image {series.name!r}" if series.name else "OME PhysicalSize"
    sizes = []
    for axis in ("Y", "X"):
        value = pixels.attrib.get(f"PhysicalSize{axis}", pixels.attrib["PhysicalSizeX"])
        unit = pixels.attrib.get(f"PhysicalSize{axis}Unit", "µm")
        if unit not in OME_UNITS_IN_UM:
            return MppReading(None, name, f"{name}: unknown unit {unit!r}")
        try:
            sizes.append(float(value) * OME_UNITS_IN_UM[unit])
        except ValueError:
            sizes.append(value)  # the validator names it
    return reading_from_metadata(sizes[0], sizes[1], name)


def _ome_pixels_of(root, series: tifffile.TiffPageSeries):
    """The ``<Pixels>`` of the ``<Image>`` whose name and size match ``series``."""
    axes, shape = series.axes, series.shape
    height, width = shape[axes.index("Y")], shape[axes.index("X")]
    best = None
    for image in (el for el in root.iter() if _local(el.tag) == "Image"):
        pixels = next((el for el in image if _local(el.tag) == "Pixels"), None)
        if pixels is None:
            continue
        same_size = (pixels.attrib.get("SizeY") == str(height)
                     and pixels.attrib.get("SizeX") == str(width))
        if same_size and series.name and image.attrib.get("Name") == series.name:
            return pixels
        if same_size and best is None:
            best = pixels
    return best


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def tag_mpp(page: tifffile.TiffPage) -> MppReading:
    """µm/px from the TIFF XResolution/YResolution tags (pixels per unit)."""
    unit = RESOLUTION_UNITS.get(int(page.resolutionunit))
    if unit is None:
        return MppReading(None)
    x_res, y_res = page.resolution
    if not (x_res and y_res and math.isfinite(x_res) and math.isfinite(y_res)):
        return MppReading(None)
    source = f"TIFF resolution tags ({x_res:g} px per {unit})"
    hint = ""
    if unit == "inch" and round(x_res) in (72, 96, 300):
        hint = (f"{x_res:g} dpi is a default of image software, not a scan resolution; "
                "enter the slide's µm/px")
    return reading_from_metadata(MICRONS_PER_UNIT[unit] / y_res, MICRONS_PER_UNIT[unit] / x_res,
                                 source, hint)


def objective_power(tif: tifffile.TiffFile) -> float | None:
    """The scan's objective magnification (e.g. 20.0) where the metadata states it."""
    value = None
    if tif.is_svs:
        value = svs_fields(tif.pages[0].description).get("AppMag")
    elif tif.is_ndpi:
        value = (tif.pages[0].ndpi_tags or {}).get("Magnification")
    elif tif.is_ome and tif.ome_metadata:
        try:
            root = ElementTree.fromstring(tif.ome_metadata)
        except Exception:  # noqa: BLE001
            return None
        objective = next((el for el in root.iter() if _local(el.tag) == "Objective"), None)
        value = objective.attrib.get("NominalMagnification") if objective is not None else None
    try:
        power = float(value)
    except (TypeError, ValueError):
        return None
    return power if math.isfinite(power) and power > 0 else None


def vendor(tif: tifffile.TiffFile) -> str:
    """The format's maker, e.g. "aperio", or "generic-tiff"."""
    for flag, name in (("is_svs", "aperio"), ("is_ndpi", "hamamatsu"), ("is_ome", "ome"),
                       ("is_philips", "philips"), ("is_scn", "leica")):
        if getattr(tif, flag, False):
            return name
    return "generic-tiff"


def properties(tif: tifffile.TiffFile) -> dict:
    """A few human-readable facts about the scan."""
    if tif.is_svs:
        fields = svs_fields(tif.pages[0].description)
        return {k: fields[k] for k in ("AppMag", "ScanScope ID", "Date", "MPP") if k in fields}
    if tif.is_ndpi:
        tags = tif.pages[0].ndpi_tags or {}
        return {k: str(tags[k]) for k in ("Magnification", "Model") if k in tags}
    software = tif.pages[0].software
    return {"Software": software} if software else {}
