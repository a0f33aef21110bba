"""Synthetic paired H&E + CK5/6 slides with known ground truth.

>>> from napari_histoseg.io.synthetic import SynthConfig, generate_pair
>>> pair = generate_pair(tmp_dir, SynthConfig(size=(2048, 2048), seed=1))   # doctest: +SKIP
>>> pair.he_path.name, pair.affine.shape                                     # doctest: +SKIP
('he.tif', (3, 3))

One concept per module: config (what to make), layout (geometry from the seed),
shapes (irregular ellipses), regions (compartments), nuclei, textures, stains,
render (a tile of a section), warp (the CK5/6 section's affine), writer (streamed
TIFF pyramids), pair (generate_pair), command (``histoseg synth``).
"""

from napari_histoseg.io.synthetic.command import add_synth_command
from napari_histoseg.io.synthetic.config import SynthConfig, SyntheticPair
from napari_histoseg.io.synthetic.pair import generate_pair, read_pair

__all__ = ["SynthConfig", "SyntheticPair", "add_synth_command", "generate_pair", "read_pair"]
