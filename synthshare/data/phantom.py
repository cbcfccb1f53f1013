"""A parametric beating heart: the embedded default cohort and the ground truth for controllability.

torchio style: `draw_phantom_params` draws every random choice FIRST from a seeded numpy Generator
and records it in a `PhantomParams`; `render_phantom_subject` is a deterministic function of those
parameters (its Rician noise comes from the recorded `noise_seed`), so any subject can be replayed.

Geometry (depth = mm from the base plane towards the apex; slice 0 is the most basal):
- LV cavity: half-ellipsoid truncated at the base plane, in-plane semi-axes r*sqrt(e), r/sqrt(e),
  long axis L; L shortens a little in systole (longitudinal shortening).
- Myocardium: the shell between the cavity and an outer half-ellipsoid whose volume is the cavity's
  plus a constant myocardial volume, so the wall thickens in systole.
- RV: a crescent, an ellipsoid centred beside the LV on the septal side minus the LV epicardium.
Each structure is scaled about its own centre so that its voxel count at voxel centres matches the
requested volume of that frame (an order statistic: exact to one voxel); hence the rendered volumes
equal the requested ones up to voxel rounding. The image averages 2x2x3 sub-samples per voxel
(partial volume); labels come from voxel centres.
Volume curve (`volume_curve`, periodic, ED = EDV and ES = ESV exactly): ejection ED -> ES (ES at a
drawn 30-40% of the cycle), then rapid early filling, diastasis (a plateau) and the atrial kick.
Its shape (`CurveShape`: ejection skew, early-filling speed and duration, atrial share and duration)
is drawn per subject independently of group, volumes and EF, as in real hearts, whose curve shape
the clinical conditions do not determine; so a generator that samples each frame given only the
phase cannot reproduce a subject's curve, while one that sees the frames together can.
Contrast is bSSFP-like: blood bright, myocardium dark, fat bright, lung dark, with a smooth
multiplicative bias field and Rician noise.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from synthshare.data.subject import GROUPS
from synthshare.errors import BadInputError
from synthshare.labels import LV, MYO, RV

log = logging.getLogger(__name__)

# (low, high) uniform ranges per group: LV EDV mL, LV EF %, RV EDV mL, RV EF %, ED wall mm, L/r.
GROUP_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "NOR": {"lv_edv": (120, 170), "lv_ef": (55, 70), "rv_edv": (110, 170), "rv_ef": (45, 65), "wall": (7, 10), "ratio": (2.3, 3.0)},
    "MINF": {"lv_edv": (160, 260), "lv_ef": (15, 40), "rv_edv": (120, 190), "rv_ef": (35, 55), "wall": (6, 9), "ratio": (1.9, 2.5)},
    "DCM": {"lv_edv": (220, 350), "lv_ef": (10, 35), "rv_edv": (130, 220), "rv_ef": (25, 50), "wall": (5, 8), "ratio": (1.6, 2.2)},
    "HCM": {"lv_edv": (90, 140), "lv_ef": (65, 80), "rv_edv": (90, 140), "rv_ef": (50, 70), "wall": (14, 22), "ratio": (2.3, 3.0)},
    "RV": {"lv_edv": (100, 160), "lv_ef": (50, 65), "rv_edv": (200, 300), "rv_ef": (20, 45), "wall": (7, 10), "ratio": (2.3, 3.0)},
}
# (vendor, scanner, field strength T, intensity gain, noise multiplier)
VENDORS: tuple[tuple[str, str, float, float, float], ...] = (
    ("SIEMENS", "Avanto", 1.5, 600.0, 1.0),
    ("Philips Medical Systems", "Achieva", 1.5, 300.0, 1.3),
    ("GE MEDICAL SYSTEMS", "SIGNA EXCITE", 1.5, 1200.0, 0.8),
    ("SIEMENS", "Skyra", 3.0, 900.0, 0.7),
)
# (low, high) uniform ranges of the curve shape, the same for every group (see `CurveShape`).
CURVE_SHAPE_RANGES: dict[str, tuple[float, float]] = {
    "ejection_exponent": (0.75, 1.3),
    "filling_exponent": (0.5, 1.0),
    "rapid_filling": (0.30, 0.55),
    "atrial_share": (0.10, 0.30),
    "atrial_duration": (0.15, 0.30),
}
# Stream id of the curve-shape draw, a child of the subject's noise seed (see `draw_curve_shape`).
_CURVE_STREAM = 0x63757276
SUPERSAMPLE = (2, 2, 3)  # sub-samples per voxel along (x, y, z) for partial volume
_MARGIN_MM = 8.0


@dataclass(frozen=True, kw_only=True)
class CurveShape:
    """Shape of one subject's volume curve; phases are fractions of systole or diastole.

    ejection_exponent: systolic time warp, < 1 ejects early (fast upstroke), > 1 late.
    filling_exponent: early-filling time warp, < 1 fills fast at once (a steep E wave).
    rapid_filling: duration of rapid early filling; atrial_duration: duration of the atrial kick;
    the rest of diastole between them is diastasis (no filling).
    atrial_share: share of the stroke volume refilled by the atrial kick (the rest fills early).
    """

    ejection_exponent: float = 1.0
    filling_exponent: float = 0.75
    rapid_filling: float = 0.45
    atrial_share: float = 0.2
    atrial_duration: float = 0.2


@dataclass(frozen=True, kw_only=True)
class PhantomParams:
    """Everything drawn for one phantom subject (volumes mL, EF %, lengths mm, angles degrees)."""

    group: str
    lv_edv: float
    lv_ef: float
    rv_edv: float
    rv_ef: float
    wall_mm: float  # ED wall thickness, sets the (constant) myocardial volume
    lv_length_mm: float  # ED cavity long axis L
    ellipticity: float  # in-plane axis ratio of the cavity
    size: tuple[int, int]  # in-plane voxels (X, Y)
    spacing: tuple[float, float, float]  # (x, y, z) mm
    slices: int
    base_offset: float  # base plane position inside slice 0, as a fraction of the slice thickness
    frames: int
    ed: int  # 0-based
    es: int  # 0-based
    centre_mm: tuple[float, float]  # LV centre offset from the image centre
    rv_angle_deg: float  # direction from the LV centre to the RV centre, in the (x, y) plane
    vendor: int  # index into VENDORS
    height: float  # cm
    weight: float  # kg
    contrast: tuple[float, float, float, float, float]  # blood, myocardium, tissue, fat, lung (blood = 1)
    bias: tuple[float, float, float, float, float, float]  # x, y, xy, x^2, y^2, z coefficients (log scale)
    body_axes: tuple[float, float]  # body ellipse semi-axes as fractions of the field of view
    fat_mm: float  # subcutaneous fat thickness
    noise: float  # Rician sigma as a fraction of the blood intensity
    noise_seed: int
    curve: CurveShape  # shape of the LV and RV volume curves (drawn from a child stream of noise_seed)

    @property
    def lv_esv(self) -> float:
        return self.lv_edv * (1.0 - self.lv_ef / 100.0)

    @property
    def rv_esv(self) -> float:
        return self.rv_edv * (1.0 - self.rv_ef / 100.0)

    @property
    def myo_volume(self) -> float:
        """Myocardial volume (mL) of a uniform wall of `wall_mm` around the ED cavity."""
        r = _radius(self.lv_edv, self.lv_length_mm)
        w = self.wall_mm
        return 2.0 / 3.0 * math.pi * ((r + w) ** 2 * (self.lv_length_mm + w) - r * r * self.lv_length_mm) / 1000.0

    def as_dict(self) -> dict:
        return asdict(self)


def _radius(volume_ml: float, length_mm: float) -> float:
    """In-plane radius of a half-ellipsoid of revolution with this volume and long axis."""
    return math.sqrt(3.0 * volume_ml * 1000.0 / (2.0 * math.pi * length_mm))


def _u(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def draw_curve_shape(*, noise_seed: int) -> CurveShape:
    """Draw a curve shape from its own stream, a child of the subject's recorded noise seed.

    A separate stream (rather than more draws from the cohort's generator) leaves every other drawn
    parameter of every subject of a seeded cohort as it was before curve shapes existed: the same
    anatomy, vendors and splits, only the motion changes.
    """
    rng = np.random.default_rng(np.random.SeedSequence([noise_seed, _CURVE_STREAM]))
    return CurveShape(**{name: _u(rng, *bounds) for name, bounds in CURVE_SHAPE_RANGES.items()})


def draw_phantom_params(*, rng: np.random.Generator, group: str, size: tuple[int, int] = (96, 96)) -> PhantomParams:
    """Draw one subject's parameters. The grid adapts so the heart fits: slices thicken (<= 10 mm)
    or multiply (<= 12) to cover the long axis, and the in-plane spacing grows above 1.8 mm only
    when `size` is too small for the heart."""
    if group not in GROUP_RANGES:
        raise BadInputError(f"phantom group {group!r} is unknown; use one of {', '.join(GROUP_RANGES)}")
    if min(size) < 16:
        raise BadInputError(f"phantom size {size} is too small; use at least 16 x 16 voxels")
    ranges = GROUP_RANGES[group]
    lv_edv, lv_ef = _u(rng, *ranges["lv_edv"]), _u(rng, *ranges["lv_ef"])
    rv_edv, rv_ef = _u(rng, *ranges["rv_edv"]), _u(rng, *ranges["rv_ef"])
    wall, ratio = _u(rng, *ranges["wall"]), _u(rng, *ranges["ratio"])
    ellipticity = _u(rng, 0.85, 1.15)
    length = ratio * (3.0 * lv_edv * 1000.0 / (2.0 * math.pi * ratio)) ** (1.0 / 3.0)

    # Slice stack: cover the LV long axis plus the apical wall and a margin.
    dz, slices, base_offset = _u(rng, 5.0, 10.0), int(rng.integers(8, 13)), _u(rng, 0.1, 0.6)
    need = length + wall + _MARGIN_MM
    if (slices - base_offset) * dz < need:
        dz = min(10.0, need / (slices - base_offset))
    if (slices - base_offset) * dz < need:
        slices = min(12, math.ceil(need / dz + base_offset))
    if (slices - base_offset) * dz < need:
        length = (slices - base_offset) * dz - wall - _MARGIN_MM

    # In-plane: the field of view must hold LV, RV crescent, epicardial fat and the centre offset.
    r_out = _radius(lv_edv, length) * math.sqrt(1.15) + wall
    rv_thickness = 1.5 * rv_edv * 1000.0 / (0.85 * (length + wall)) / (math.pi * r_out)
    rv_angle = _u(rng, 200.0, 250.0)
    jitter = (_u(rng, -3.0, 3.0), _u(rng, -3.0, 3.0))
    # the LV sits off-centre, away from the RV, so that the whole heart is centred
    away = 0.5 * rv_thickness
    centre = (jitter[0] - away * math.cos(math.radians(rv_angle)), jitter[1] - away * math.sin(math.radians(rv_angle)))
    half_fov = r_out + away + _MARGIN_MM + 3.0
    sxy = max(_u(rng, 1.3, 1.8), 2.0 * half_fov / min(size))

    frames = int(rng.integers(12, 31))
    ed = int(rng.choice([0, 0, 0, 1, 2]))
    es = ed + max(2, round(_u(rng, 0.30, 0.40) * frames))
    vendor = int(rng.integers(0, len(VENDORS)))
    contrast = (1.0, _u(rng, 0.18, 0.30), _u(rng, 0.28, 0.40), _u(rng, 0.70, 0.90), _u(rng, 0.03, 0.10))
    height, weight = round(_u(rng, 150.0, 195.0), 1), round(_u(rng, 50.0, 110.0), 1)
    bias = tuple(_u(rng, -0.2, 0.2) for _ in range(6))
    body_axes = (_u(rng, 0.40, 0.50), _u(rng, 0.45, 0.55))
    fat_mm, noise = _u(rng, 5.0, 14.0), _u(rng, 0.02, 0.05)
    noise_seed = int(rng.integers(0, 2**31 - 1))
    return PhantomParams(
        group=group,
        lv_edv=lv_edv,
        lv_ef=lv_ef,
        rv_edv=rv_edv,
        rv_ef=rv_ef,
        wall_mm=wall,
        lv_length_mm=length,
        ellipticity=ellipticity,
        size=(int(size[0]), int(size[1])),
        spacing=(sxy, sxy, dz),
        slices=slices,
        base_offset=base_offset,
        frames=frames,
        ed=ed,
        es=es,
        centre_mm=centre,
        rv_angle_deg=rv_angle,
        vendor=vendor,
        height=height,
        weight=weight,
        contrast=contrast,
        bias=bias,  # type: ignore[arg-type]
        body_axes=body_axes,
        fat_mm=fat_mm,
        noise=noise,
        noise_seed=noise_seed,
        curve=draw_curve_shape(noise_seed=noise_seed),
    )


def volume_curve(*, edv: float, ef: float, frames: int, ed: int, es: int, shape: CurveShape = CurveShape()) -> np.ndarray:
    """Volume (mL) per frame: ejection ED -> ES, rapid filling, diastasis, atrial kick (periodic).

    The filled share f of the stroke volume is 1 at ED, 0 at ES and monotone in between, so ED is the
    only maximum (exactly EDV) and ES the only minimum (exactly ESV): EF is exactly as requested.
    """
    esv = edv * (1.0 - ef / 100.0)
    systole = es - ed
    c = (np.arange(frames) - ed) % frames
    s = np.clip(c / systole, 0.0, 1.0) ** shape.ejection_exponent
    u = np.clip((c - systole) / (frames - systole), 0.0, 1.0)  # diastolic phase, 0 at ES
    early = (1.0 - shape.atrial_share) * _rise(np.clip(u / shape.rapid_filling, 0.0, 1.0) ** shape.filling_exponent)
    kick = shape.atrial_share * _rise(np.clip((u - 1.0 + shape.atrial_duration) / shape.atrial_duration, 0.0, 1.0))
    filled = np.where(c <= systole, 1.0 - _rise(s), early + kick)
    return esv + (edv - esv) * filled


def _rise(x: np.ndarray) -> np.ndarray:
    """Raised cosine from 0 at x = 0 to 1 at x = 1 (flat at both ends)."""
    return (1.0 - np.cos(np.pi * x)) / 2.0


def _threshold(rho2: np.ndarray, count: int) -> float:
    """Squared scale at which exactly `count` of the finite values of rho2 lie inside."""
    flat = rho2.ravel()
    finite = int(np.count_nonzero(np.isfinite(flat)))
    if count <= 0:
        return 0.0
    if count >= finite:
        log.warning("phantom: the field of view holds only %d of %d voxels of a structure", finite, count)
        return float(np.max(flat[np.isfinite(flat)])) if finite else 0.0
    part = np.partition(flat, (count - 1, count))
    return float(part[count - 1] + part[count]) / 2.0


class _Grid:
    """Sample coordinates (mm) of one grid: in-plane x (X,), y (Y,), depth below the base (Z,)."""

    def __init__(self, params: PhantomParams, factor: tuple[int, int, int]) -> None:
        (nx, ny), (sx, sy, sz) = params.size, params.spacing
        fx, fy, fz = factor
        self.factor = factor
        self.x = ((np.arange(nx * fx) + 0.5) / fx - nx / 2.0) * sx - params.centre_mm[0]
        self.y = ((np.arange(ny * fy) + 0.5) / fy - ny / 2.0) * sy - params.centre_mm[1]
        self.depth = ((np.arange(params.slices * fz) + 0.5) / fz - params.base_offset) * sz

    def crop(self, box: tuple[slice, slice, slice]) -> _Grid:
        """The sub-grid covering a box of voxels (given in voxel indices of the unit grid)."""
        sub = object.__new__(_Grid)
        sub.factor = self.factor
        sub.x, sub.y, sub.depth = (
            axis[b.start * f : b.stop * f] for axis, b, f in zip((self.x, self.y, self.depth), box, self.factor)
        )
        return sub


def _bounding_box(mask: np.ndarray) -> tuple[slice, slice, slice]:
    """Voxel box around a mask, grown by one voxel each way (partial volume reaches the neighbours)."""
    box = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hits = np.flatnonzero(mask.any(axis=other))
        if hits.size == 0:
            return (slice(0, 0),) * 3
        box.append(slice(max(0, int(hits[0]) - 1), min(mask.shape[axis], int(hits[-1]) + 2)))
    return box[0], box[1], box[2]


def _half_ellipsoid(grid: _Grid, *, centre: tuple[float, float], axes: tuple[float, float], angle: float, length: float) -> np.ndarray:
    """rho^2 of a base-truncated half-ellipsoid (inf above the base), float32 (X, Y, Z)."""
    dx, dy = grid.x[:, None] - centre[0], grid.y[None, :] - centre[1]
    ca, sa = math.cos(angle), math.sin(angle)
    u, v = (dx * ca + dy * sa) / axes[0], (-dx * sa + dy * ca) / axes[1]
    qz = np.where(grid.depth >= 0, (grid.depth / length) ** 2, np.inf).astype(np.float32)
    return (u * u + v * v).astype(np.float32)[:, :, None] + qz[None, None, :]


def _shapes(params: PhantomParams, grid: _Grid, lv_ml: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nominal rho^2 fields of the cavity, the epicardium and the RV ellipsoid at one LV volume."""
    length = params.lv_length_mm * (lv_ml / params.lv_edv) ** 0.2  # longitudinal shortening
    r = _radius(lv_ml, length)
    e = math.sqrt(params.ellipticity)
    cav = _half_ellipsoid(grid, centre=(0.0, 0.0), axes=(r * e, r / e), angle=0.0, length=length)
    # uniform wall w with (r+w)^2 (L+w) = r^2 L + 3 M / (2 pi): a few Newton steps
    target = r * r * length + 3.0 * params.myo_volume * 1000.0 / (2.0 * math.pi)
    w = params.wall_mm
    for _ in range(8):
        f = (r + w) ** 2 * (length + w) - target
        w -= f / (2 * (r + w) * (length + w) + (r + w) ** 2)
    out = _half_ellipsoid(grid, centre=(0.0, 0.0), axes=(r * e + w, r / e + w), angle=0.0, length=length + w)
    r_out_ed = _radius(params.lv_edv, params.lv_length_mm) + params.wall_mm
    angle = math.radians(params.rv_angle_deg)
    rv_centre = (0.5 * r_out_ed * math.cos(angle), 0.5 * r_out_ed * math.sin(angle))
    rv = _half_ellipsoid(grid, centre=rv_centre, axes=(0.95 * (r + w), 1.25 * (r + w)), angle=angle, length=0.85 * (length + w))
    return cav, out, rv


def _background(params: PhantomParams, grid: _Grid) -> np.ndarray:
    """Static surroundings (blood = 1): body, subcutaneous fat, lungs, descending aorta; (X, Y, Z)."""
    _, _, tissue, fat, lung = params.contrast
    (nx, ny), (sx, sy, _) = params.size, params.spacing
    bx, by = params.body_axes[0] * nx * sx * 2, params.body_axes[1] * ny * sy * 2
    x, y = grid.x[:, None] + params.centre_mm[0], grid.y[None, :] + params.centre_mm[1]
    body = (x / bx) ** 2 + (y / by) ** 2
    inner = (x / (bx - params.fat_mm)) ** 2 + (y / (by - params.fat_mm)) ** 2
    img = np.where(body <= 1.0, fat, 0.0)
    img = np.where(inner <= 1.0, tissue, img)
    r_heart = _radius(params.lv_edv, params.lv_length_mm) + params.wall_mm
    for side in (-1.0, 1.0):
        ly = params.centre_mm[1] + side * (r_heart + 30.0)
        lungs = ((x - params.centre_mm[0] + 5.0) / 45.0) ** 2 + ((y - ly) / 28.0) ** 2
        img = np.where((lungs <= 1.0) & (inner <= 1.0), lung, img)
    aorta = (x - params.centre_mm[0] - r_heart - 14.0) ** 2 + (y - params.centre_mm[1] - 12.0) ** 2
    img = np.where(aorta <= 11.0**2, 0.95, img)
    return np.repeat(img[:, :, None], grid.depth.size, axis=2).astype(np.float32)


def _bias(params: PhantomParams) -> np.ndarray:
    (nx, ny), nz = params.size, params.slices
    x = np.linspace(-1.0, 1.0, nx)[:, None, None]
    y = np.linspace(-1.0, 1.0, ny)[None, :, None]
    z = np.linspace(-1.0, 1.0, nz)[None, None, :]
    c = params.bias
    return np.exp(c[0] * x + c[1] * y + c[2] * x * y + c[3] * x * x + c[4] * y * y + c[5] * z).astype(np.float32)


def _pool(volume: np.ndarray, factor: tuple[int, int, int]) -> np.ndarray:
    """Mean over factor-sized blocks (strided sums: much faster than a 6-D reshape mean)."""
    for axis, f in enumerate(factor):
        index = [slice(None)] * 3
        parts = []
        for k in range(f):
            index[axis] = slice(k, None, f)
            parts.append(volume[tuple(index)])
        volume = sum(parts[1:], parts[0]) / np.float32(f)
    return volume


def render_phantom_subject(params: PhantomParams) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """Render one subject: image float32 (X, Y, Z, T), labels uint8 (X, Y, Z, T) internal map, spacing."""
    (nx, ny), nz, nt = params.size, params.slices, params.frames
    voxel_ml = params.spacing[0] * params.spacing[1] * params.spacing[2] / 1000.0
    lv = volume_curve(edv=params.lv_edv, ef=params.lv_ef, frames=nt, ed=params.ed, es=params.es, shape=params.curve)
    rv = volume_curve(edv=params.rv_edv, ef=params.rv_ef, frames=nt, ed=params.ed, es=params.es, shape=params.curve)
    myo_count = round(params.myo_volume / voxel_ml)
    centres, fine = _Grid(params, (1, 1, 1)), _Grid(params, SUPERSAMPLE)
    blood, myo_i, _, fat, _ = params.contrast
    background = _background(params, fine)
    background_pooled = _pool(background, SUPERSAMPLE)
    image = np.repeat(background_pooled[..., None], nt, axis=3)
    labels = np.zeros((nx, ny, nz, nt), dtype=np.uint8)
    for t in range(nt):
        # 1. scales that give each structure its exact voxel count at the voxel centres
        cav, out, rvf = _shapes(params, centres, float(lv[t]))
        s_cav = _threshold(cav, round(lv[t] / voxel_ml))
        s_out = _threshold(np.where(cav <= s_cav, np.inf, out), myo_count) if myo_count else s_cav
        in_out = (cav <= s_cav) | (out <= s_out)
        s_rv = _threshold(np.where(in_out, np.inf, rvf), round(rv[t] / voxel_ml))
        # 2. labels from the voxel centres
        lab = labels[..., t]
        lab[(rvf <= s_rv) & ~in_out] = RV
        lab[out <= s_out] = MYO
        lab[cav <= s_cav] = LV
        # 3. image from sub-samples of the heart's box: the same shapes on the fine grid, averaged
        box = _bounding_box((out <= s_out * 1.3) | (rvf <= s_rv * 1.2) | (cav <= s_cav))
        sub = fine.crop(box)
        if sub.depth.size == 0:
            continue
        cav, out, rvf = _shapes(params, sub, float(lv[t]))
        heart = (cav <= s_cav) | (out <= s_out)
        rv_in = (rvf <= s_rv) & ~heart
        rim = (rvf <= s_rv * 1.15) & ~heart & ~rv_in  # RV free wall: muscle, unlabelled as in ACDC
        epi_fat = (out <= s_out * 1.2) & ~heart & ~rv_in & ~rim
        fine_box = tuple(slice(b.start * f, b.stop * f) for b, f in zip(box, SUPERSAMPLE))
        val = np.where(epi_fat, np.float32(0.7 * fat), background[fine_box])
        val = np.where(rim, np.float32(myo_i), val)
        val = np.where(rv_in, np.float32(0.95 * blood), val)
        val = np.where(out <= s_out, np.float32(myo_i), val)
        val = np.where(cav <= s_cav, np.float32(blood), val)
        image[box + (t,)] = _pool(val, SUPERSAMPLE)
    # 4. bias field, scanner gain, Rician noise (seeded from the recorded parameters)
    gain, noise_mult = VENDORS[params.vendor][3], VENDORS[params.vendor][4]
    image *= _bias(params)[..., None] * gain
    sigma = params.noise * noise_mult * gain * blood
    noise_rng = np.random.default_rng(params.noise_seed)
    real = image + sigma * noise_rng.standard_normal(image.shape, dtype=np.float32)
    imag = sigma * noise_rng.standard_normal(image.shape, dtype=np.float32)
    image = np.sqrt(real * real + imag * imag).astype(np.float32)
    return image, labels, params.spacing


def phantom_groups(n: int) -> list[str]:
    """Group of each of n subjects, round-robin over the five groups."""
    return [GROUPS[i % len(GROUPS)] for i in range(n)]


def write_phantom_cohort(
    *, out: Path, n: int, seed: int, layout: Literal["acdc", "mnms2"] = "acdc", size: tuple[int, int] = (96, 96),
    workers: int = 0,
) -> Path:
    """Render n subjects into OUT in a real layout with phantom_truth.csv (see `phantom_writers`)."""
    from synthshare.data.phantom_writers import write_phantom_cohort as write

    return write(out=out, n=n, seed=seed, layout=layout, size=size, workers=workers)
