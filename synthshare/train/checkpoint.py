"""Checkpoints without pickle: tensors in safetensors, everything else in JSON.

Nested state (optimizer state, sampler RNG states, the ledger) is flattened: every tensor goes to
the safetensors file under a dotted key and is replaced in the JSON by {"__tensor__": key};
dicts become {"__items__": [[key, value], ...]} so integer keys (optimizer state) survive.
The step is written in both files; a mismatch (a crash between the two writes) reads as corrupt.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from synthshare.atomic import INTERNAL, atomic_write_with
from synthshare.errors import BadInputError


class CheckpointError(BadInputError):
    """A checkpoint is missing, corrupt or does not match its state file."""


def flatten(obj: Any, *, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().contiguous().clone()
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        return {"__items__": [[k, flatten(v, prefix=f"{prefix}.{k}", tensors=tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [flatten(v, prefix=f"{prefix}.{i}", tensors=tensors) for i, v in enumerate(obj)]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    raise TypeError(f"cannot checkpoint a {type(obj).__name__} at {prefix}")


def unflatten(obj: Any, *, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        return {k: unflatten(v, tensors=tensors) for k, v in obj["__items__"]}
    if isinstance(obj, list):
        return [unflatten(v, tensors=tensors) for v in obj]
    return obj


def save_checkpoint(*, weights_path: Path, state_path: Path, weights: dict[str, torch.Tensor], state: dict[str, Any], step: int) -> None:
    """Weights under "model.", state tensors under "state."; JSON state beside it; both atomic."""
    tensors: dict[str, torch.Tensor] = {f"model.{k}": v.detach().cpu().contiguous().clone() for k, v in weights.items()}
    meta = flatten(state, prefix="state", tensors=tensors)
    atomic_write_with(path=weights_path, write=lambda tmp: save_file(tensors, tmp, metadata={"step": str(step)}), mode=INTERNAL)
    text = json.dumps({"step": step, "state": meta}, sort_keys=True)
    atomic_write_with(path=state_path, write=lambda tmp: Path(tmp).write_text(text), mode=INTERNAL)


def load_checkpoint(*, weights_path: Path, state_path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], int]:
    """(weights, state, step); CheckpointError naming the file if anything is off."""
    try:
        raw = json.loads(Path(state_path).read_text())
        tensors = load_file(str(weights_path))
        with safe_open(str(weights_path), framework="pt") as handle:
            saved_step = int((handle.metadata() or {}).get("step", -1))
    except (OSError, json.JSONDecodeError, SafetensorError, ValueError) as err:
        raise CheckpointError(f"{weights_path.parent}: unreadable checkpoint ({err}); delete that folder to retrain the stage") from err
    fix = f"delete {weights_path.parent} to retrain the stage"
    if not isinstance(raw, dict) or "state" not in raw:
        raise CheckpointError(f"{state_path}: not a checkpoint state file (no 'state' object); {fix}")
    if saved_step != raw.get("step"):
        raise CheckpointError(f"{weights_path.parent}: checkpoint step {saved_step} != state step {raw.get('step')}; delete that folder to retrain the stage")
    weights = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        state = unflatten(raw["state"], tensors=tensors)
    except (KeyError, TypeError, ValueError) as err:  # a missing "__items__", a tensor not in the weights file, ...
        raise CheckpointError(f"{state_path}: malformed state ({type(err).__name__}: {err}) or not written with "
                              f"{weights_path.name}; {fix}") from err
    if not isinstance(state, dict):
        raise CheckpointError(f"{state_path}: the state is a {type(state).__name__}, not an object; {fix}")
    return weights, state, int(raw["step"])


def save_weights(*, path: Path, weights: dict[str, torch.Tensor]) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous().clone() for k, v in weights.items()}
    atomic_write_with(path=Path(path), write=lambda tmp: save_file(tensors, tmp), mode=INTERNAL)


def load_weights(*, weights_path: Path) -> dict[str, torch.Tensor]:
    try:
        tensors = load_file(str(weights_path))
    except (OSError, SafetensorError) as err:
        raise CheckpointError(f"{weights_path}: unreadable weights ({err}); retrain the stage") from err
    return {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
