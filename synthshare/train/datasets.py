"""Training datasets indexed BY SUBJECT: item i is one example drawn from subject i.

The privacy unit is the subject, so no dataset here ever yields two examples of one subject
in one item or folds frames into the batch. Random choices (which frame) come from the
dataset's own torch.Generator, whose state is checkpointed so a resumed run replays exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from synthshare.data.prepared import PreparedSubject


class VAEFrameDataset(Dataset):
    """Item i: one randomly drawn frame of subject i, its labels and its `labelled` flag.

    A subject once read stays in memory while the kept subjects total at most ``memory_bytes``; the
    others are read again from the prepared cache each time. Reading and decompressing a demo subject
    took 4 ms, 35 ms of a 0.5 s VAE step of 8 subjects; a demo cohort is about 30 MB.
    """

    def __init__(
        self, *, keys: list[str], load: Callable[[str], PreparedSubject], generator: torch.Generator,
        memory_bytes: int = 1 << 30,
    ) -> None:
        self.keys = list(keys)
        self.load = load
        self.generator = generator
        self.memory_bytes = memory_bytes
        self._kept: dict[int, PreparedSubject] = {}
        self._kept_bytes = 0

    def __len__(self) -> int:
        return len(self.keys)

    def _subject(self, index: int) -> PreparedSubject:
        subject = self._kept.get(index)
        if subject is None:
            subject = self.load(self.keys[index])
            size = sum(np.asarray(a).nbytes for a in (subject.image, subject.labels, subject.labelled))
            if self._kept_bytes + size <= self.memory_bytes:
                self._kept[index] = subject
                self._kept_bytes += size
        return subject

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        subject = self._subject(index)
        t = int(torch.randint(subject.image.shape[0], (1,), generator=self.generator))
        return {
            "image": torch.from_numpy(subject.image[t].astype("float32"))[None],
            "labels": torch.from_numpy(subject.labels[t].astype("int64")),
            "labelled": torch.tensor(float(bool(subject.labelled[t]))),
        }

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


class TensorSubjectDataset(Dataset):
    """Item i: subject i's precomputed tensors (latents, residuals, condition vector)."""

    def __init__(self, *, tensors: dict[str, torch.Tensor]) -> None:
        sizes = {name: t.shape[0] for name, t in tensors.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"one row per subject in every tensor, got {sizes}")
        self.tensors = tensors

    def __len__(self) -> int:
        return next(iter(self.tensors.values())).shape[0]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {name: t[index] for name, t in self.tensors.items()}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None
