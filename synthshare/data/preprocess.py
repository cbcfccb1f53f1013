"""Subject (native, (X, Y, Z, T)) -> PreparedSubject (common grid, (T, S, H, W)).

Steps, in this order:
1. time: roll so ED is frame 0, then resample the cycle to `frames` frames by periodic linear
   interpolation; a labelled source frame maps to the nearest resampled frame (ED -> 0,
   ES -> round(es_rel * frames), kept distinct from ED); labels are never interpolated in time.
2. space: MONAI `Spacing` to `DataConfig.spacing` in all three axes (bilinear image, nearest labels).
   Slices are RESAMPLED to the configured slice spacing (not only padded), so every prepared
   subject has the same physical slice thickness; then
3. slices: centre-crop or zero-pad to `DataConfig.slices` slices around the heart, and
4. in-plane: crop (zero-padding where the window leaves the image) `DataConfig.crop` around the heart
   centre: the centre of the bounding box of the labelled foreground over all labelled frames (so a
   heart no larger than the crop always fits whole; a centroid sits off-centre towards the LV and cut
   the RV of hearts that fit), or the image centre for a subject without labels. A heart larger
   than the window is cut: logged as a warning naming the subject and the window it needs.
5. intensity: MONAI `ScaleIntensityRangePercentiles` over the whole prepared 4D image to [0, 1], clipped.
Measures come from the SOURCE labels at native spacing; `key` is a content fingerprint, never the id.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np

from synthshare.config import DataConfig
from synthshare.data.measures import measure
from synthshare.data.prepared import PreparedSubject
from synthshare.data.subject import Subject
from synthshare.errors import DataError

log = logging.getLogger(__name__)

FINGERPRINT_VERSION = b"synthshare-subject-v1"


def subject_fingerprint(subject: Subject) -> str:
    """sha256 over the subject's image and label bytes (with shapes, spacing, ED/ES): its pseudonymous key."""
    digest = hashlib.sha256(FINGERPRINT_VERSION)
    image = np.ascontiguousarray(subject.image, dtype=np.float32)
    digest.update(repr((image.shape, tuple(round(float(s), 6) for s in subject.spacing), subject.ed, subject.es)).encode())
    digest.update(image.tobytes())
    for frame in sorted(subject.labels):
        digest.update(f"frame{frame}".encode())
        digest.update(np.ascontiguousarray(subject.labels[frame], dtype=np.uint8).tobytes())
    return digest.hexdigest()


def preparable_problems(subject: Subject) -> list[str]:
    """Why `prepare_subject` would refuse this subject (empty = it can be prepared).

    `synthshare data check` lists these too, so a cohort it passes is one training can ingest.
    """
    if subject.image.ndim != 4:
        return [f"image has shape {subject.image.shape}; a 4D (X, Y, Z, T) cine is needed"]
    frames = subject.frames
    problems = []
    for name, frame in (("ED", subject.ed), ("ES", subject.es)):
        if not 0 <= frame < frames:
            problems.append(f"{name} frame {frame} is outside the {frames} frames")
        elif frame not in subject.labels:
            problems.append(f"the {name} frame ({frame + 1}, 1-based) has no labels; provide its segmentation")
    if subject.ed == subject.es:
        problems.append("ED and ES are the same frame; fix the ED/ES frame numbers")
    for frame, labels in subject.labels.items():
        if labels.shape != subject.image.shape[:3]:
            problems.append(f"labels of frame {frame + 1} have shape {labels.shape}, image frames {subject.image.shape[:3]}")
    return problems


def _check(subject: Subject) -> None:
    problems = preparable_problems(subject)
    if problems:
        where = f"subject {subject.id} ({subject.source or 'in memory'})"
        raise DataError(f"{where}: cannot prepare: " + "; ".join(problems))


def target_frame(*, source: int, ed: int, frames_in: int, frames_out: int) -> int:
    """Resampled frame index of a source frame, with ED at 0 (nearest, periodic)."""
    return round(((source - ed) % frames_in) * frames_out / frames_in) % frames_out


def _resample_time(image: np.ndarray, *, ed: int, frames_out: int) -> np.ndarray:
    """(X, Y, Z, T) -> (X, Y, Z, frames_out), ED first, periodic linear interpolation."""
    rolled = np.roll(image, -ed, axis=3)
    frames_in = rolled.shape[3]
    position = np.arange(frames_out) * frames_in / frames_out
    low = np.floor(position).astype(int) % frames_in
    high = (low + 1) % frames_in
    weight = (position - np.floor(position)).astype(np.float32)
    return rolled[..., low] * (1.0 - weight) + rolled[..., high] * weight


def _label_frames(subject: Subject, frames_out: int) -> dict[int, int]:
    """Resampled frame -> source frame for labelled frames; ED and ES first, others where free."""
    frames_in = subject.frames
    chosen = {0: subject.ed}
    es = target_frame(source=subject.es, ed=subject.ed, frames_in=frames_in, frames_out=frames_out)
    chosen[min(max(es, 1), frames_out - 1)] = subject.es

    def error(source: int) -> float:
        exact = ((source - subject.ed) % frames_in) * frames_out / frames_in
        return abs(exact - round(exact))

    for source in sorted(subject.labels, key=error):
        slot = target_frame(source=source, ed=subject.ed, frames_in=frames_in, frames_out=frames_out)
        chosen.setdefault(slot, source)
    return chosen


def _spacing(volume: np.ndarray, *, native: tuple[float, float, float], target: tuple[float, float, float], mode: str) -> np.ndarray:
    """(C, X, Y, Z) resampled with MONAI Spacing on a diagonal affine (axes kept as stored)."""
    import torch
    from monai.data import MetaTensor
    from monai.transforms import Spacing

    affine = torch.from_numpy(np.diag([*native, 1.0]))
    tensor = MetaTensor(torch.from_numpy(np.ascontiguousarray(volume, dtype=np.float32)), affine=affine)
    out = Spacing(pixdim=target, mode=mode, padding_mode="border" if mode != "nearest" else "zeros", dtype=np.float32)(tensor)
    return out.cpu().numpy() if hasattr(out, "numpy") else np.asarray(out)


def _crop_pad(volume: np.ndarray, *, axis: int, size: int, centre: float) -> np.ndarray:
    """Crop `volume` along `axis` to `size` around `centre`, zero-padding where the window leaves it."""
    length = volume.shape[axis]
    start = int(round(centre - size / 2.0))  # may be negative or overrun: padded below
    stop = start + size
    pad_before, pad_after = max(0, -start), max(0, stop - length)
    index = [slice(None)] * volume.ndim
    index[axis] = slice(max(0, start), min(length, stop))
    cropped = volume[tuple(index)]
    if pad_before or pad_after:
        widths = [(0, 0)] * volume.ndim
        widths[axis] = (pad_before, pad_after)
        cropped = np.pad(cropped, widths)
    return cropped


def heart_box(labels: np.ndarray) -> tuple[tuple[int, int], ...] | None:
    """(first, last) voxel of the labelled foreground per axis of (C, X, Y, Z), over all C; None if empty."""
    if not labels.size:
        return None
    foreground = labels.any(axis=0)
    box = []
    for axis in range(3):
        hits = np.flatnonzero(foreground.any(axis=tuple(a for a in range(3) if a != axis)))
        if hits.size == 0:
            return None
        box.append((int(hits[0]), int(hits[-1])))
    return tuple(box)


def _heart_centre(labels: np.ndarray, shape: tuple[int, int, int]) -> tuple[float, float, float]:
    """Centre (x, y, z) of the foreground's bounding box over all labelled frames; else the volume centre."""
    box = heart_box(labels)
    if box is None:
        return tuple((s - 1) / 2.0 for s in shape)  # type: ignore[return-value]
    return tuple((low + high) / 2.0 for low, high in box)  # type: ignore[return-value]


def check_heart_fits(
    *, subject_id: str, labels: np.ndarray, data: DataConfig, warn: bool = True
) -> tuple[int, int, int] | None:
    """The heart's extent (X, Y, slices) in target voxels if it does not fit the window, else None.

    Warns (unless warn=False), naming the subject and the window needed: a cut heart trains the
    generator on truncated anatomy and biases every volume measured from the prepared labels.
    """
    box = heart_box(labels)
    if box is None:
        return None
    extent = tuple(high - low + 1 for low, high in box)
    window = (data.crop[0], data.crop[1], data.slices)
    if all(e <= w for e, w in zip(extent, window)):
        return None
    if not warn:
        return extent  # type: ignore[return-value]
    log.warning(
        "subject %s: the heart spans %d x %d voxels in-plane and %d slices at %s mm; the window of %d x %d x %d "
        "cuts it; use data.crop >= [%d, %d] and data.slices >= %d (or a coarser data.spacing)",
        subject_id, *extent, "x".join(f"{s:g}" for s in data.spacing), *window,
        max(extent[0], window[0]), max(extent[1], window[1]), max(extent[2], window[2]),
    )
    return extent  # type: ignore[return-value]


def warn_cut_hearts(*, cut: list[tuple[str, tuple[int, int, int]]], n: int, data: DataConfig) -> None:
    """One warning for every heart the window cut: how many, which (the first few) and the window they need."""
    if not cut:
        return
    need = [max(max(e[i] for _, e in cut), w) for i, w in enumerate((data.crop[0], data.crop[1], data.slices))]
    names = ", ".join(subject_id for subject_id, _ in cut[:5]) + (f" and {len(cut) - 5} more" if len(cut) > 5 else "")
    log.warning(
        "%d of %d subjects' hearts are cut by the %d x %d x %d window at %s mm (%s); use data.crop >= [%d, %d] and "
        "data.slices >= %d (or a coarser data.spacing)",
        len(cut), n, data.crop[0], data.crop[1], data.slices, "x".join(f"{s:g}" for s in data.spacing), names, *need,
    )


def prepare_subject(
    *, subject: Subject, data: DataConfig, cut: list[tuple[str, tuple[int, int, int]]] | None = None
) -> PreparedSubject:
    """Preprocess one subject onto the common grid of `data` (see the module docstring).

    A heart the window cuts is warned about here, or, with `cut`, appended to it as (id, extent) for
    the caller's one summary (warn_cut_hearts) instead of one warning per subject.
    """
    from monai.transforms import ScaleIntensityRangePercentiles

    _check(subject)
    key = subject_fingerprint(subject)
    measures = measure(ed_labels=subject.labels[subject.ed], es_labels=subject.labels[subject.es], spacing=subject.spacing)
    native = tuple(float(s) for s in subject.spacing)
    target = tuple(float(s) for s in data.spacing)

    # 1. time
    image = _resample_time(np.asarray(subject.image, dtype=np.float32), ed=subject.ed, frames_out=data.frames)
    slots = _label_frames(subject, data.frames)
    order = sorted(slots)
    # 2. space: frames as channels, (C, X, Y, Z)
    image = _spacing(np.moveaxis(image, 3, 0), native=native, target=target, mode="bilinear")
    label_stack = np.stack([subject.labels[slots[j]] for j in order]).astype(np.float32)
    label_stack = np.rint(_spacing(label_stack, native=native, target=target, mode="nearest")).astype(np.uint8)
    # 3-4. slices and in-plane crop around the heart
    extent = check_heart_fits(subject_id=subject.id, labels=label_stack, data=data, warn=cut is None)
    if extent is not None and cut is not None:
        cut.append((subject.id, extent))
    cx, cy, cz = _heart_centre(label_stack, image.shape[1:])
    for axis, size, centre in ((3, data.slices, cz), (1, data.crop[0], cx), (2, data.crop[1], cy)):
        image = _crop_pad(image, axis=axis, size=size, centre=centre + 0.5)
        label_stack = _crop_pad(label_stack, axis=axis, size=size, centre=centre + 0.5)
    # 5. intensity
    low, high = data.intensity_percentiles
    scale = ScaleIntensityRangePercentiles(lower=low, upper=high, b_min=0.0, b_max=1.0, clip=True)
    image = np.asarray(scale(image), dtype=np.float32)

    # (C=T, X, Y, Z) -> (T, S, H, W), the axis convention of prepared.py
    image = np.ascontiguousarray(image.transpose(0, 3, 1, 2))
    labels = np.zeros(image.shape, dtype=np.uint8)
    labelled = np.zeros(data.frames, dtype=bool)
    for row, slot in enumerate(order):
        labels[slot] = label_stack[row].transpose(2, 0, 1)
        labelled[slot] = True
    es_frame = next(j for j in order if slots[j] == subject.es)
    return PreparedSubject(
        key=key,
        image=image,
        labels=labels,
        labelled=labelled,
        spacing=target,  # type: ignore[arg-type]
        measures=measures,
        group=subject.group,
        es_frame=int(es_frame),
    )
