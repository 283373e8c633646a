"""Read PyTorch ``.pth`` state dicts into numpy arrays without importing torch.

Two on-disk formats are understood:

* the legacy (pre-1.6, non-zip) format that the packaged EfficientNet-Lite0 weights use: a
  stream of pickles — magic number, protocol version, sys info, the object pickle, a pickled
  list of storage keys — followed, for each key in that order, by an 8-byte little-endian
  element count and the storage's raw bytes;
* the zip format of newer ``torch.save`` (``<name>/data.pkl`` + ``<name>/data/<key>``).

Loading is *safe*: the unpickler only resolves an allow-list of globals (``OrderedDict``,
the tensor rebuild helpers and the typed storage classes, all mapped to local stand-ins), so a
malicious file cannot run code. Tensors are rebuilt with their saved strides (the packaged
conv weights are not contiguous) and returned as contiguous numpy copies.
"""

from __future__ import annotations

import collections
import io
import logging
import os
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

logger = logging.getLogger(__name__)

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype(np.float32),
    "DoubleStorage": np.dtype(np.float64),
    "HalfStorage": np.dtype(np.float16),
    "LongStorage": np.dtype(np.int64),
    "IntStorage": np.dtype(np.int32),
    "ShortStorage": np.dtype(np.int16),
    "CharStorage": np.dtype(np.int8),
    "ByteStorage": np.dtype(np.uint8),
    "BoolStorage": np.dtype(np.bool_),
}


class TorchPickleError(ValueError):
    """The file is not a readable PyTorch state dict (or uses something not allowed)."""


class _StorageType:
    """Stand-in for ``torch.FloatStorage`` & co: only carries the numpy dtype."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


def _rebuild_tensor_v2(
    storage: np.ndarray,
    storage_offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    requires_grad: bool = False,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> np.ndarray:
    """A strided *view* into the (possibly not yet filled) storage array."""
    size = tuple(int(s) for s in size)
    stride = tuple(int(s) for s in stride)
    itemsize = storage.dtype.itemsize
    if any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise TorchPickleError("negative tensor size or stride")
    if all(s > 0 for s in size):
        last = storage_offset + sum((n - 1) * st for n, st in zip(size, stride))
        if storage_offset < 0 or last >= storage.size:
            raise TorchPickleError("tensor view exceeds its storage")
    base = storage[storage_offset:]
    return np.lib.stride_tricks.as_strided(
        base, shape=size, strides=tuple(st * itemsize for st in stride), writeable=False
    )


def _rebuild_tensor(
    storage: np.ndarray,
    storage_offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
) -> np.ndarray:
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def _rebuild_parameter(
    data: np.ndarray, requires_grad: bool = False, backward_hooks: Any = None
) -> np.ndarray:
    return data


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _SafeUnpickler(pickle.Unpickler):
    """Resolves only allow-listed globals; storages come back as zero-filled numpy arrays."""

    def __init__(self, file: BinaryIO, max_bytes: int) -> None:
        super().__init__(file, encoding="utf-8")
        self.storages: dict[str, np.ndarray] = {}
        self._max_bytes = max_bytes

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise TorchPickleError(
                f"refusing to load global {module}.{name} from a weights file"
            ) from None

    def persistent_load(self, saved_id: Any) -> np.ndarray:
        if not isinstance(saved_id, tuple) or not saved_id:
            raise TorchPickleError(f"unexpected persistent id {saved_id!r}")
        typename = (
            saved_id[0].decode("ascii")
            if isinstance(saved_id[0], bytes)
            else saved_id[0]
        )
        if typename != "storage":
            raise TorchPickleError(f"unsupported persistent id type {typename!r}")
        storage_type, key, _location, numel = saved_id[1:5]
        view_metadata = saved_id[5] if len(saved_id) > 5 else None
        if not isinstance(storage_type, _StorageType):
            raise TorchPickleError(f"unsupported storage type {storage_type!r}")
        key = str(key)
        numel = int(numel)
        if numel < 0 or numel * storage_type.dtype.itemsize > self._max_bytes:
            raise TorchPickleError(
                f"storage {key} claims an impossible size ({numel} elements)"
            )
        root = self.storages.get(key)
        if root is None:
            root = np.zeros(numel, dtype=storage_type.dtype)
            self.storages[key] = root
        if view_metadata is not None:
            _view_key, offset, view_size = view_metadata
            return root[int(offset) : int(offset) + int(view_size)]
        return root


def _read_legacy(f: BinaryIO, file_size: int) -> tuple[Any, dict[str, np.ndarray]]:
    magic = _SafeUnpickler(f, max_bytes=file_size).load()
    if magic != LEGACY_MAGIC_NUMBER:
        raise TorchPickleError("not a legacy PyTorch file (bad magic number)")
    protocol = _SafeUnpickler(f, max_bytes=file_size).load()
    if protocol != LEGACY_PROTOCOL_VERSION:
        raise TorchPickleError(f"unsupported legacy protocol version {protocol!r}")
    sys_info = _SafeUnpickler(f, max_bytes=file_size).load()
    little_endian = (
        bool(sys_info.get("little_endian", True))
        if isinstance(sys_info, dict)
        else True
    )

    unpickler = _SafeUnpickler(f, max_bytes=file_size)
    result = unpickler.load()
    storage_keys = _SafeUnpickler(f, max_bytes=file_size).load()
    if not isinstance(storage_keys, list):
        raise TorchPickleError("storage key list missing")

    for key in storage_keys:
        storage = unpickler.storages.get(str(key))
        if storage is None:
            raise TorchPickleError(f"storage {key} is listed but never referenced")
        header = f.read(8)
        if len(header) != 8:
            raise TorchPickleError("file ends inside the storage data")
        (count,) = struct.unpack("<q" if little_endian else ">q", header)
        if count != storage.size:
            raise TorchPickleError(
                f"storage {key}: {count} elements on disk, {storage.size} expected"
            )
        raw = storage.view(np.uint8)
        if f.readinto(memoryview(raw)) != raw.size:
            raise TorchPickleError("file ends inside the storage data")
        if not little_endian and storage.dtype.itemsize > 1:
            storage.byteswap(inplace=True)
    return result, unpickler.storages


def _read_zip(path: Path) -> Any:
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        pkl = next(
            (n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None
        )
        if pkl is None:
            raise TorchPickleError(
                "zip file without data.pkl: not a PyTorch checkpoint"
            )
        prefix = pkl[: -len("data.pkl")]
        total = sum(i.file_size for i in zf.infolist())
        unpickler = _SafeUnpickler(io.BytesIO(zf.read(pkl)), max_bytes=total)
        result = unpickler.load()
        for key, storage in unpickler.storages.items():
            data = zf.read(f"{prefix}data/{key}")
            raw = storage.view(np.uint8)
            if len(data) != raw.size:
                raise TorchPickleError(
                    f"storage {key}: {len(data)} bytes on disk, {raw.size} expected"
                )
            raw[:] = np.frombuffer(data, dtype=np.uint8)
    return result


def load_legacy_state_dict(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a PyTorch state dict (legacy or zip ``.pth``) as ``{name: contiguous ndarray}``.

    Raises ``TorchPickleError`` for anything that is not a plain tensor state dict.
    """
    path = Path(path)
    if zipfile.is_zipfile(path):
        result = _read_zip(path)
    else:
        with open(path, "rb") as f:
            result, _ = _read_legacy(f, os.fstat(f.fileno()).st_size)
    if isinstance(result, dict) and isinstance(result.get("state_dict"), dict):
        result = result["state_dict"]
    if not isinstance(result, dict):
        raise TorchPickleError(f"expected a state dict, found {type(result).__name__}")
    out: dict[str, np.ndarray] = {}
    for name, value in result.items():
        if isinstance(value, np.ndarray):
            out[str(name)] = np.array(value, dtype=value.dtype, order="C", copy=True)
        else:
            logger.debug("skipping non-tensor entry %r in %s", name, path)
    return out
