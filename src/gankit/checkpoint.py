"""Checkpoint files: safetensors (tensors + a JSON header), written atomically, never pickled.

A nested state (module and optimiser state dicts, random states, plain numbers) is split
into named tensors and one JSON tree in which each tensor is replaced by a reference to
its name. Loading parses that JSON and reads raw tensor bytes, so a file cannot run code.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from gankit.errors import GankitError
from gankit.files import atomic_write, open_regular, parse_json
from gankit.resources import require

FORMAT = "gankit-checkpoint-1"
ACCEPTED = "a .safetensors checkpoint written by gankit"
HEADER_LIMIT = 100_000_000  # safetensors' own limit on a header


def _encode(value: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    # Dicts become key/value lists so that integer keys (optimiser state) survive JSON.
    if isinstance(value, torch.Tensor):
        tensors[path] = value.detach().contiguous().clone()
        return {"__tensor__": path}
    if isinstance(value, dict):
        return {"__items__": [[key, _encode(item, f"{path}/{key}", tensors)] for key, item in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(item, f"{path}/{i}", tensors) for i, item in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(item, f"{path}/{i}", tensors) for i, item in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} at {path} in a checkpoint")


def _decode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, dict):
        if "__tensor__" in value:
            return tensors[value["__tensor__"]]
        if "__tuple__" in value:
            return tuple(_decode(item, tensors) for item in value["__tuple__"])
        return {key: _decode(item, tensors) for key, item in value["__items__"]}
    if isinstance(value, list):
        return [_decode(item, tensors) for item in value]
    return value


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write a nested state (dicts, lists, tuples, tensors, numbers, strings) as one safetensors file, atomically."""
    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(state, "", tensors)
    data = save_tensors(tensors, metadata={"format": FORMAT, "state": json.dumps(tree)})
    atomic_write(Path(path), data)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The state saved by `save_checkpoint`; GankitError for anything else (pickles, truncated files, a file longer
    than its header says, a FIFO or device, a file larger than the memory available)."""
    path = Path(path)
    try:
        with open_regular(path, "checkpoint", ACCEPTED) as handle:
            data = _read_whole(handle, os.fstat(handle.fileno()).st_size, path)
    except OSError as error:
        raise GankitError(
            f"checkpoint {str(path)!r} could not be read ({error.strerror}); accepted: {ACCEPTED}"
        ) from None
    try:
        metadata = json.loads(data[8 : 8 + struct.unpack("<Q", data[:8])[0]]).get("__metadata__") or {}
        if metadata.get("format") != FORMAT:
            raise ValueError("no gankit format tag")
        tensors = load_tensors(data)
        return _decode(parse_json(metadata["state"]), tensors)
    except Exception as error:  # any parse failure means the same thing to the user
        raise _invalid(path, str(error).splitlines()[0] if str(error) else type(error).__name__) from None


def _invalid(path: Path, reason: str) -> GankitError:
    return GankitError(
        f"checkpoint {str(path)!r} is not a valid gankit checkpoint ({reason[:120]}); accepted: {ACCEPTED}"
    )


def _read_whole(handle: Any, size: int, path: Path) -> bytes:
    """The file's bytes, once its header says that they are exactly the file (and fit in memory)."""
    try:
        header_size = struct.unpack("<Q", handle.read(8))[0]
        if header_size > min(HEADER_LIMIT, size - 8):
            raise ValueError("file is shorter than its header says")
        header = json.loads(handle.read(header_size))
        ends = [entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"]
    except (struct.error, ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as error:
        raise _invalid(path, str(error).splitlines()[0] if str(error) else type(error).__name__) from None
    expected = 8 + header_size + max(ends, default=0)
    if expected != size:
        raise _invalid(path, f"{size:,} bytes where its header says {expected:,}")
    require(f"checkpoint {str(path)!r}", 2 * size, "a checkpoint that fits in memory")
    handle.seek(0)
    return handle.read(size)
