"""Camera tamper detection on one small grayscale picture (numpy only, microseconds per check).

Compared with the previous check and with a reference picture of the camera's normal view:

* ``black``   — the picture is dark and flat (lens capped, video loss, IR failure at night);
* ``covered`` — texture has collapsed: a hand, a bag, paint or deep fog over the lens;
* ``frozen``  — two checks minutes apart give the same picture (a hung encoder repeats it);
* ``moved``   — the scene no longer matches the reference (camera turned or knocked).

"Moved" asks for two signs at once: a low normalised cross-correlation with the reference AND
most of the picture's blocks changed. People and cars crossing the view change a few blocks;
a turned camera changes nearly all of them, so traffic alone does not raise a false alarm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Tamper = Literal["black", "covered", "frozen", "moved"]
Gray = npt.NDArray[np.uint8]
# The size every check works at: small enough to be cheap, big enough to see a clock overlay
# change (a frozen check must not mistake a ticking timestamp for a hung picture).
WIDTH, HEIGHT = 160, 90
BLOCK = 10  # 16 × 9 blocks

BLACK_MEAN = 20.0  # of 255 (full range)
BLACK_STD = 8.0
FLAT_STD = 8.0  # no reference yet: a picture this flat and ...
FLAT_EDGES = 0.5  # ... this edgeless is covered, ...
# ... or one that is smooth (half its blocks vary less than SMOOTH_BLOCK_STD: a bag or paint,
# not a dim scene's sensor noise) with any texture in a caption or clock burnt in by the camera
# (a covered lens still shows the camera's own overlay): one or two of the 9 rows of blocks.
FLAT_TEXTURED_SHARE = 0.15
SMOOTH_BLOCK_STD = 2.0
EDGE_COLLAPSE = 0.25  # with a reference: edges below this share of the reference's
FROZEN_PIXEL_DELTA = 4  # grey levels: larger differences count as change ...
FROZEN_CHANGED_SHARE = 0.0005  # ... and fewer changed pixels than this is a frozen picture
MOVED_NCC = 0.5
MOVED_BLOCK_DELTA = 0.5  # in units of the pictures' standard deviation
MOVED_BLOCK_SHARE = 0.4


@dataclass(frozen=True)
class Look:
    """The statistics the checks use."""

    mean: float
    std: float
    edges: float  # mean absolute gradient, grey levels per pixel


def look(gray: Gray) -> Look:
    """Statistics of one picture."""
    g = gray.astype(np.float32)
    edges = float(np.abs(np.diff(g, axis=1)).mean() + np.abs(np.diff(g, axis=0)).mean())
    return Look(mean=float(g.mean()), std=float(g.std()), edges=edges)


def ncc(a: Gray, b: Gray) -> float:
    """Normalised cross-correlation of two same-sized pictures (1: identical up to gain)."""
    x = a.astype(np.float64) - a.mean()
    y = b.astype(np.float64) - b.mean()
    denom = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denom) if denom > 0 else 0.0


def changed_block_share(a: Gray, b: Gray) -> float:
    """Share of BLOCK×BLOCK blocks whose contents differ, after normalising brightness and
    contrast of each picture (so day/night gain changes are not "changes")."""

    def z(img: Gray) -> npt.NDArray[np.float64]:
        f = img.astype(np.float64)
        out: npt.NDArray[np.float64] = (f - f.mean()) / max(float(f.std()), 1.0)
        return out

    d = np.abs(z(a) - z(b))
    h, w = (d.shape[0] // BLOCK) * BLOCK, (d.shape[1] // BLOCK) * BLOCK
    blocks = d[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).mean(axis=(1, 3))
    return float((blocks > MOVED_BLOCK_DELTA).mean())


def smooth_with_a_caption(gray: Gray) -> bool:
    """Most blocks smooth, and texture (a block standard deviation over FLAT_STD) in too few
    of them to be a scene: a covered lens under the camera's own clock or caption."""
    f = gray.astype(np.float32)
    h, w = (f.shape[0] // BLOCK) * BLOCK, (f.shape[1] // BLOCK) * BLOCK
    spread = f[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).std(axis=(1, 3))
    return bool(float(np.median(spread)) < SMOOTH_BLOCK_STD
                and float((spread > FLAT_STD).mean()) < FLAT_TEXTURED_SHARE)


def is_frozen(current: Gray, previous: Gray) -> bool:
    """The same picture as last time, to within compression noise."""
    if current.shape != previous.shape:
        return False
    delta = np.abs(current.astype(np.int16) - previous.astype(np.int16))
    return float((delta > FROZEN_PIXEL_DELTA).mean()) < FROZEN_CHANGED_SHARE


def assess(gray: Gray, *, previous: Gray | None, reference: Gray | None) -> Tamper | None:
    """The tamper found in ``gray`` (checked in order of severity), or None."""
    now = look(gray)
    if now.mean < BLACK_MEAN and now.std < BLACK_STD:
        return "black"
    if reference is not None and reference.shape == gray.shape:
        ref = look(reference)
        if now.edges < EDGE_COLLAPSE * ref.edges and now.std < max(FLAT_STD, 0.5 * ref.std):
            return "covered"
    elif now.std < FLAT_STD and (now.edges < FLAT_EDGES or smooth_with_a_caption(gray)):
        return "covered"
    if previous is not None and is_frozen(gray, previous):
        return "frozen"
    if (
        reference is not None
        and reference.shape == gray.shape
        and ncc(gray, reference) < MOVED_NCC
        and changed_block_share(gray, reference) > MOVED_BLOCK_SHARE
    ):
        return "moved"
    return None


def fit_as_reference(gray: Gray) -> bool:
    """Whether a picture may become the reference (a covered or black view must not)."""
    return assess(gray, previous=None, reference=None) is None
