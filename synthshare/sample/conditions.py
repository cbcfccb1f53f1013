"""Sampling conditions: from a user CSV (validated) or drawn from the released prior.

CSV columns: group, lv_edv, lv_esv (required); lv_ef, rv_edv, myo_mass, slices (optional: lv_ef is
derived from EDV/ESV, the others filled with the group's released mean, the geometric mean for rv_edv
and myo_mass, which the prior holds on a log scale). Volumes in mL, EF in %, myocardial mass in g,
slices a whole number within the run's grid. Any other column is refused (a misspelt optional column
would otherwise be replaced by the group mean without a word), and so is a group the training cohort
had no subject of (the generator never learnt it).
"""

from __future__ import annotations

import csv
import difflib
from pathlib import Path

import numpy as np

from synthshare.errors import BadInputError
from synthshare.models.conditioning import (
    CONDITION_GROUPS,
    MEASURE_FIELDS,
    MEASURE_LOWER,
    MEASURE_UPPER,
    from_prior_space,
    group_index,
)

REQUIRED = ("group", "lv_edv", "lv_esv")
COLUMNS = ("group", *MEASURE_FIELDS)
EF_TOLERANCE = 1.0  # percentage points between a given lv_ef and 100 (EDV - ESV) / EDV
MIN_GROUP_COUNT = 1.0  # released (possibly noisy) count below which a group counts as absent from training
Condition = dict[str, float | str]


class ConditionsError(BadInputError):
    """A conditions CSV is unusable; the message names the file, row and column."""


def _bounds(field: str) -> tuple[float, float]:
    i = MEASURE_FIELDS.index(field)
    return float(MEASURE_LOWER[i]), float(MEASURE_UPPER[i])


def read_conditions_csv(*, path: Path, prior: dict, grid_slices: int) -> list[Condition]:
    """Validated, completed conditions, one per CSV row; every problem reported at once.

    prior: the run's conditions.json (released statistics); grid_slices: the run's config.data.slices.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            raw = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ConditionsError(f"{path}: cannot read the conditions CSV ({err}); pass a UTF-8 CSV file") from err
    # DictReader puts the fields beyond the header under the key None (a list): a shifted row
    extra = [f"row {n}: {len(columns) + len(row[None])} fields but the header has {len(columns)} (extra: {row[None]}); "
             "remove the extra fields or quote a value that holds a comma"
             for n, row in enumerate(raw, start=2) if row.get(None)]
    if extra:
        raise ConditionsError(f"{path}: {len(extra)} row(s) longer than the header:\n" + "\n".join(f"  - {p}" for p in extra))
    rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in raw]
    header = _header_problems(columns)
    if header:
        raise ConditionsError(f"{path}: header (row 1): " + "; ".join(header))
    if not rows:
        raise ConditionsError(f"{path}: no rows; add one row per synthetic subject")
    counts = np.asarray(prior["statistics"]["counts"], dtype=float)
    problems: list[str] = []
    out: list[Condition] = []
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        cond: Condition = {}
        group = row["group"]
        if group not in CONDITION_GROUPS:
            problems.append(f"row {number}, column group: {group!r} is not one of {', '.join(CONDITION_GROUPS)}")
        elif counts[group_index(group)] < MIN_GROUP_COUNT:
            learnt = [g for g in CONDITION_GROUPS if counts[group_index(g)] >= MIN_GROUP_COUNT]
            problems.append(f"row {number}, column group: the training cohort had no {group} subject (released count "
                            f"{counts[group_index(group)]:.3g}), so the generator never learnt that group; use one of "
                            f"{', '.join(learnt)}")
        cond["group"] = group
        for field in MEASURE_FIELDS:
            text = row.get(field, "")
            if text == "":
                if field in REQUIRED:
                    problems.append(f"row {number}, column {field}: empty; give a number")
                continue
            try:
                value = float(text)
            except ValueError:
                problems.append(f"row {number}, column {field}: {text!r} is not a number")
                continue
            lo, hi = _bounds(field)
            if field == "slices":
                lo, hi = 1.0, float(grid_slices)
                if not (value.is_integer() and lo <= value <= hi):
                    problems.append(f"row {number}, column slices: {text} is not a whole number in [1, {grid_slices}] "
                                    f"(the run's grid has {grid_slices} slices); give one, or leave it empty for the group mean")
                    continue
            elif not (lo <= value <= hi):
                problems.append(f"row {number}, column {field}: {value:g} is outside [{lo:g}, {hi:g}]")
                continue
            cond[field] = value
        if "lv_edv" in cond and "lv_esv" in cond:
            edv, esv = float(cond["lv_edv"]), float(cond["lv_esv"])
            if esv >= edv:
                problems.append(f"row {number}, column lv_esv: {esv:g} must be below lv_edv {edv:g}")
            elif "lv_ef" in cond:
                problems.extend(_ef_problem(number=number, ef=float(cond["lv_ef"]), edv=edv, esv=esv))
        out.append(cond)
    if problems:
        raise ConditionsError(f"{path}: {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems))
    return [complete(condition=c, prior=prior) for c in out]


def _header_problems(columns: list[str]) -> list[str]:
    problems = []
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}; the header needs {', '.join(REQUIRED)} "
                        f"(optional: {', '.join(f for f in MEASURE_FIELDS if f not in REQUIRED)})")
    for column in columns:
        if column not in COLUMNS:
            close = difflib.get_close_matches(column, COLUMNS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(f"unknown column {column!r}; {hint}allowed: {', '.join(COLUMNS)}")
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        problems.append(f"column(s) {', '.join(duplicates)} given twice; keep one of each")
    return problems


def _ef_problem(*, number: int, ef: float, edv: float, esv: float) -> list[str]:
    """A given lv_ef must agree with the volumes (the model is conditioned on all three)."""
    derived = 100.0 * (edv - esv) / edv
    if abs(ef - derived) <= EF_TOLERANCE:
        return []
    hint = f"EF is in %, not a fraction (write {100 * ef:g}?); " if ef <= 1.0 else ""
    return [f"row {number}, column lv_ef: {ef:g} disagrees with 100 (EDV - ESV) / EDV = {derived:.1f} by more than "
            f"{EF_TOLERANCE:g} point; {hint}fix it or leave lv_ef empty to derive it from the volumes"]


def group_means(*, prior: dict, group: str) -> np.ndarray:
    """(6,) the group's released means in the measures' units; a log-scale field's is its geometric mean."""
    stats = prior["statistics"]
    return from_prior_space(np.asarray(stats["means"], dtype=float)[group_index(group)], stats.get("space"))


def complete(*, condition: Condition, prior: dict) -> Condition:
    """Derive lv_ef from EDV/ESV if absent; fill other absent measures with the group's released mean
    (for the volumes and the mass, which the prior holds on a log scale, the geometric mean)."""
    means = group_means(prior=prior, group=str(condition["group"]))
    out = dict(condition)
    if "lv_ef" not in out:
        edv, esv = float(out["lv_edv"]), float(out["lv_esv"])
        out["lv_ef"] = 100.0 * (edv - esv) / edv
    for i, field in enumerate(MEASURE_FIELDS):
        out.setdefault(field, float(means[i]))
    return {"group": out["group"], **{f: float(out[f]) for f in MEASURE_FIELDS}}


def lv_esv_ef(*, edv: float, esv: float) -> tuple[float, float]:
    """(ESV kept within 5-95% of EDV, the EF they give): the LV pair every generated condition satisfies."""
    esv = float(np.clip(esv, 0.05 * edv, 0.95 * edv))
    return esv, 100.0 * (edv - esv) / edv


def draw_conditions(*, prior: dict, n: int, rng: np.random.Generator) -> list[Condition]:
    """n conditions from the released prior: group ~ counts, measures ~ N(group mean, pooled covariance) on the
    prior's scale (statistics.space: the volumes and the mass log-normal), clipped to its bounds."""
    stats = prior["statistics"]
    space = stats.get("space")
    counts = np.maximum(np.asarray(stats["counts"], dtype=float), 0.0)
    probs = counts / counts.sum() if counts.sum() > 0 else np.full(len(counts), 1.0 / len(counts))
    means = np.asarray(stats["means"], dtype=float)
    cov = np.asarray(stats["covariance"], dtype=float)
    lo, hi = np.asarray(stats["lower"], dtype=float), np.asarray(stats["upper"], dtype=float)
    edv_floor = float(from_prior_space(lo, space)[0]) + 1.0
    out: list[Condition] = []
    for _ in range(n):
        g = int(rng.choice(len(probs), p=probs))
        x = from_prior_space(np.clip(rng.multivariate_normal(means[g], cov, method="eigh"), lo, hi), space)
        edv = max(float(x[0]), edv_floor)
        esv, ef = lv_esv_ef(edv=edv, esv=float(x[1]))
        out.append({
            "group": CONDITION_GROUPS[g], "lv_edv": edv, "lv_esv": esv, "lv_ef": ef,
            "rv_edv": float(x[3]), "myo_mass": float(x[4]), "slices": float(np.rint(x[5])),
        })
    return out
