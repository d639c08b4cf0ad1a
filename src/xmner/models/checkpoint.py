"""Self-describing model checkpoints: one file that rebuilds the model alone.

A checkpoint is a dict of plain values and tensors, written atomically with ``torch.save`` and
read back with ``torch.load(..., weights_only=True)``::

    {"schema": 1, "kind": "acn", "config": {...}, "init": {...}, "state_dict": {...},
     "extra": {...}}

``init`` is what the model needs besides its config to be rebuilt (labels, vocabularies,
tokenizer files): the model class writes it with ``init_state()`` and reads it back with the
classmethod ``rebuild(config, init)``. A new model kind is one entry in ``KINDS``.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from xmner.io import atomic_open

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Kind:
    """Where a model kind's config and model classes live (imported only when needed)."""

    module: str
    config: str
    model: str

    def classes(self) -> tuple[type, type]:
        """The (config class, model class) pair."""
        mod = importlib.import_module(self.module)
        return getattr(mod, self.config), getattr(mod, self.model)


# Model kinds. A model class provides ``config`` (a dataclass), ``init_state() -> dict`` of
# plain values and the classmethod ``rebuild(config, init) -> model``.
KINDS: dict[str, Kind] = {
    "acn": Kind("xmner.models.acn", "ACNConfig", "ACN"),
    "umt": Kind("xmner.models.umt", "UMTConfig", "UMT"),
}


@dataclass
class Checkpoint:
    """A loaded checkpoint: the rebuilt model, its kind and config, and the caller's extras."""

    kind: str
    model: nn.Module
    config: Any
    extra: dict[str, Any]


def kind_of(model: nn.Module) -> str:
    """The ``KINDS`` key of ``model``'s class."""
    for name, kind in KINDS.items():
        if type(model).__module__ == kind.module and type(model).__name__ == kind.model:
            return name
    known = ", ".join(f"{k.module}.{k.model}" for k in KINDS.values())
    raise ValueError(f"cannot checkpoint a {type(model).__qualname__}; expected one of: {known}")


def _config_dict(config: Any) -> dict[str, Any]:
    to_dict = getattr(config, "to_dict", None)
    return to_dict() if callable(to_dict) else dataclasses.asdict(config)


def save(path: str | Path, model: nn.Module, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (config, init state, weights) and ``extra`` to ``path`` atomically."""
    payload = {
        "schema": SCHEMA_VERSION,
        "kind": kind_of(model),
        "config": _config_dict(model.config),
        "init": model.init_state(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": dict(extra or {}),
    }
    path = Path(path)
    with atomic_open(path, "wb") as f:
        torch.save(payload, f)
    log.info("saved %s checkpoint to %s", payload["kind"], path)
    return path


def _read(path: Path, map_location: str | torch.device) -> dict[str, Any]:
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # unpickling errors come in many types
        raise ValueError(f"{path}: not a readable xmner checkpoint ({err})") from err
    if not isinstance(payload, dict) or "schema" not in payload:
        raise ValueError(f"{path}: not an xmner checkpoint (no 'schema' key)")
    if payload["schema"] != SCHEMA_VERSION:
        raise ValueError(
            f"{path}: checkpoint schema {payload['schema']}, expected {SCHEMA_VERSION}"
        )
    missing = {"kind", "config", "init", "state_dict"} - payload.keys()
    if missing:
        raise ValueError(f"{path}: checkpoint lacks {sorted(missing)}")
    if payload["kind"] not in KINDS:
        raise ValueError(
            f"{path}: unknown model kind {payload['kind']!r}; expected one of {sorted(KINDS)}"
        )
    return payload


def open_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the model in ``path`` with its weights, plus its kind, config and extras."""
    path = Path(path)
    payload = _read(path, map_location)
    config_cls, model_cls = KINDS[payload["kind"]].classes()
    try:
        config = config_cls.from_dict(payload["config"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: config does not fit {config_cls.__name__}: {err}") from None
    model = model_cls.rebuild(config, payload["init"])
    model.load_state_dict(payload["state_dict"])
    model.to(map_location)
    model.eval()
    return Checkpoint(payload["kind"], model, config, payload.get("extra", {}))


def load(path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """The model saved in ``path``, rebuilt from the file alone, in eval mode."""
    return open_checkpoint(path, map_location).model
