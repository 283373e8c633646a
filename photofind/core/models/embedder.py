"""Turning preprocessed image tensors into L2-normalised embedding vectors.

``Embedder`` is the protocol the rest of the app depends on; ``OnnxEmbedder`` runs an ONNX model
with onnxruntime. Provider choice: ``"auto"`` and ``"cuda"`` ask for CUDA only when this
onnxruntime build offers it, then check what the session really runs on (onnxruntime silently
drops to CPU when the CUDA libraries are missing); whatever happens, the embedder works on CPU and
says why in ``fallback_reason``. Model outputs are flattened to ``(N, dim)`` and L2-normalised
here, so built-in and user models behave the same.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Protocol

import numpy as np

from photofind.core.models.spec import ModelInfo, PreprocessSpec

logger = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


class Embedder(Protocol):
    """Anything that maps a batch of preprocessed images to unit vectors."""

    model_id: str
    dim: int
    preprocess: PreprocessSpec

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """``batch``: float32, shape (N, 3, S, S) or (N, S, S, 3) per ``preprocess.layout``.

        Returns float32 (N, dim), each row L2-normalised.
        """
        ...


def embed_each(embedder: Embedder, tensors: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """``embedder.embed`` one image per model run, rows stacked: for a search's few images.

    onnxruntime's CPU arena keeps the largest batch's activations for the life of the session:
    at 288 px a 3-image batch grows the process by ~83 MB against ~30 MB for one image, and one
    image at a time is no slower on 2 cores (bench/README.md, 1,000,000 photos). A search
    process holds a 1.2 GB ranking index at 1M photos, so its queries run one by one; the
    indexer keeps its batches.
    """
    if len(tensors) == 0:
        return np.zeros((0, embedder.dim), np.float32)
    return np.concatenate([embedder.embed(np.asarray(t)[None]) for t in tensors])


def nvidia_gpu_present() -> bool:
    """Whether an NVIDIA GPU is visible; on Linux by its device nodes, elsewhere assumed so.

    Only a cheap hint for ``device="auto"``; whether CUDA actually starts is still checked with
    ``session.get_providers()``.
    """
    if sys.platform.startswith("linux"):
        return os.path.exists("/dev/nvidia0") or os.path.exists("/proc/driver/nvidia/gpus")
    return sys.platform != "darwin"


def usable_cores() -> int:
    """Cores this process may use (respects CPU affinity / container limits where visible)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """Model threads: every usable core (onnxruntime's spin-waiting is off, so idle model
    threads leave the cores to the decode pool).

    Measured with bench/throughput.py on 2 cores, interleaved runs at the 288 px input: 2 model
    threads index Corel at 72-79 photos/s against 46-47 with 1, and 5120x2880 JPEGs at 32-41
    against 24-30. (At the 224 px input of 0.1 one thread had been slightly faster: the model
    was cheap enough that decoding mattered as much.)
    """
    return usable_cores()


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class OnnxEmbedder:
    """An ``Embedder`` backed by an onnxruntime session. ``embed`` is safe to call from threads."""

    def __init__(
        self, info: ModelInfo, device: str = "auto", threads: int | None = None
    ) -> None:
        import onnxruntime as ort

        if device not in ("auto", "cuda", "cpu"):
            raise ValueError(f"device must be 'auto', 'cuda' or 'cpu', not {device!r}")
        self.info = info
        self.model_id = info.model_id
        self.dim = info.dim
        self.preprocess = info.preprocess
        self.threads = threads or default_threads()
        self.fallback_reason: str | None = None

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        # Idle onnxruntime threads spin by default; in the indexer they would burn the core
        # the decode threads need (bench/throughput.py: 24.9 -> ~16 CPU ms per photo). Searches
        # do not spin either: one photo alone runs faster spinning (9.9 vs 16.9 ms on 2 threads),
        # but in the window it gained nothing (bench/gui_query.py --novel p95 90-93 vs 83-84 ms)
        # and doubled the GUI thread's longest stall (43-44 vs 20-24 ms); while the index job ran,
        # searches took twice as long and the window stalled up to 100 ms (bench/gui_stall.py,
        # 3 runs each, 2026-12-02).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # x86 CPUs without VNNI multiply uint8 x int8 pairs into saturating 16-bit sums: the
        # int8 model's embeddings drift (cosine to float32 0.93 on Corel/UKBench photos). This
        # makes onnxruntime use exact u8 x u8 kernels there (0.993); float models are unaffected.
        opts.add_session_config_entry("session.x64quantprecision", "1")

        want_cuda = device in ("auto", "cuda")
        session = None
        if device == "auto" and not nvidia_gpu_present():
            # Trying CUDA with no GPU makes onnxruntime print a loud error on every start;
            # "auto" should be quiet on the many machines that simply have no NVIDIA card.
            want_cuda = False
            self.fallback_reason = "no NVIDIA GPU found"
        if want_cuda:
            available = ort.get_available_providers()
            if CUDA not in available:
                self.fallback_reason = (
                    f"this onnxruntime build has no {CUDA} (available: {', '.join(available)}); "
                    "install onnxruntime-gpu for GPU support"
                )
            else:
                try:
                    session = ort.InferenceSession(
                        str(info.onnx_path), opts, providers=[CUDA, CPU]
                    )
                except Exception as exc:  # noqa: BLE001 - any CUDA start failure means CPU
                    self.fallback_reason = f"starting {CUDA} failed: {exc}"
                else:
                    if CUDA not in session.get_providers():
                        self.fallback_reason = (
                            f"onnxruntime could not start {CUDA} (no usable GPU, or CUDA/cuDNN "
                            "libraries missing; see onnxruntime's log above)"
                        )
        if session is None:
            session = ort.InferenceSession(str(info.onnx_path), opts, providers=[CPU])
        if self.fallback_reason is not None:
            # An explicit request, or a GPU build that failed to start, deserves a warning; a
            # CPU-only build under "auto" is the normal case on most machines.
            level = (
                logging.WARNING
                if device == "cuda" or (want_cuda and CUDA in ort.get_available_providers())
                else logging.INFO
            )
            logger.log(level, "running %s on CPU: %s", info.name, self.fallback_reason)

        self.session = session
        self.providers: list[str] = list(session.get_providers())
        self.device = "cuda" if CUDA in self.providers else "cpu"
        inputs = session.get_inputs()
        self.input_name = info.input_name or inputs[0].name
        self.output_name = info.output_name or session.get_outputs()[0].name
        batch_dim = next(
            (i.shape[0] for i in inputs if i.name == self.input_name), None
        )
        # Some exported models pin the batch to 1: feed those one image at a time.
        self._fixed_batch_one = batch_dim == 1
        logger.info(
            "model %s on %s (providers %s, %d threads)",
            info.name,
            self.device,
            self.providers,
            self.threads,
        )

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """float32 (N, dim), rows L2-normalised; see ``Embedder.embed``."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.ndim != 4:
            raise ValueError(f"expected a 4-d image batch, got shape {batch.shape}")
        if len(batch) == 0:
            return np.zeros((0, self.dim), np.float32)
        if self._fixed_batch_one and len(batch) > 1:
            parts = [self._run(batch[i : i + 1]) for i in range(len(batch))]
            out = np.concatenate(parts, axis=0)
        else:
            out = self._run(batch)
        if out.shape[1] != self.dim:
            raise ValueError(
                f"model {self.model_id} gave {out.shape[1]}-d output, expected {self.dim}"
            )
        return l2_normalise(out)

    def feature_map(self, batch: np.ndarray, output: str = "feature_map") -> np.ndarray:
        """The model's pre-pooling output ``(N, C, h, w)`` (for ``core/models/pooling.py``).

        Only for models that expose one (the built-in EfficientNet-Lite0 does); raises
        ``ValueError`` otherwise. The input may be any square size the model accepts.
        """
        names = [o.name for o in self.session.get_outputs()]
        if output not in names:
            raise ValueError(f"model {self.model_id} has no output {output!r} (outputs: {names})")
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        (out,) = self.session.run([output], {self.input_name: batch})
        return np.asarray(out, dtype=np.float32)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        (out,) = self.session.run([self.output_name], {self.input_name: batch})
        return np.asarray(out, dtype=np.float32).reshape(len(batch), -1)
