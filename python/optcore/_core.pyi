"""Type stubs for optcore._core, the private compiled module (use the optcore package instead)."""

from typing import Any

import numpy as np
import numpy.typing as npt

def philox4x32_10(counter: tuple[int, int, int, int], key: tuple[int, int]) -> tuple[int, int, int, int]: ...
def stream_words(seed: int, run: int, epoch: int, worker: int, purpose: int, count: int) -> npt.NDArray[np.uint32]: ...
def stream_bounded(
    seed: int, run: int, epoch: int, worker: int, purpose: int, bound: int, count: int
) -> npt.NDArray[np.uint32]: ...
def epoch_orders(
    spec: dict[str, Any], arrays: dict[str, Any], epochs: int, first_epoch: int = 0
) -> npt.NDArray[np.uint32]: ...
def run_sgd(
    kind: str,
    data: dict[str, Any],
    x: npt.NDArray[np.float32] | npt.NDArray[np.float64],
    runs: dict[str, Any],
    spec: dict[str, Any],
    recording: dict[str, Any],
) -> None: ...
class PreparedRunF32:
    def run(
        self, x: npt.NDArray[np.float32], seeds: npt.NDArray[np.uint64], run_ids: npt.NDArray[np.uint32]
    ) -> tuple[dict[str, np.ndarray], int]: ...

class PreparedRunF64:
    def run(
        self, x: npt.NDArray[np.float64], seeds: npt.NDArray[np.uint64], run_ids: npt.NDArray[np.uint32]
    ) -> tuple[dict[str, np.ndarray], int]: ...

def prepare_sgd(
    kind: str,
    data: dict[str, Any],
    run_arrays: dict[str, Any],
    spec: dict[str, Any],
    rec_inputs: dict[str, Any],
    record: list[str],
    iterates: bool,
    runs: int,
    dim: int,
    dtype: str,
) -> PreparedRunF32 | PreparedRunF64: ...
def isa_info() -> dict[str, bool | str]: ...
def elementary(function: str, x: np.ndarray, isa: str = ...) -> np.ndarray: ...
def mlp_eval(
    data: dict[str, Any],
    params: npt.NDArray[np.float32] | npt.NDArray[np.float64],
    what: str,
    v: npt.NDArray[np.float32] | npt.NDArray[np.float64] | None = None,
    threads: int = 1,
    isa: str = "auto",
) -> dict[str, np.ndarray]: ...
def mlp_eval_checked(
    data: dict[str, Any],
    params: npt.NDArray[np.float32] | npt.NDArray[np.float64],
    what: str,
    v: npt.NDArray[np.float32] | npt.NDArray[np.float64] | None = None,
    threads: int = 1,
    isa: str = "auto",
) -> tuple[int, dict[str, np.ndarray] | None]: ...
def linear_tensor_gd(
    net: dict[str, Any], data: dict[str, Any], theta: npt.NDArray[np.floating], options: dict[str, Any]
) -> dict[str, npt.NDArray[Any]]: ...
def run_games(
    game: dict[str, Any],
    x: npt.NDArray[np.float32] | npt.NDArray[np.float64],
    y: npt.NDArray[np.float32] | npt.NDArray[np.float64],
    options: dict[str, Any],
) -> dict[str, npt.NDArray[Any]]: ...
def generator_evaluate(
    net: dict[str, Any], theta: npt.NDArray[np.float64], options: dict[str, Any]
) -> dict[str, npt.NDArray[Any] | None]: ...
def generator_gd(
    net: dict[str, Any], theta: npt.NDArray[np.float64], options: dict[str, Any]
) -> dict[str, npt.NDArray[Any]]: ...
def _set_gemm(sgemm: int, dgemm: int) -> None: ...
def _gemm_backend() -> str: ...
def _gemm(
    a: npt.NDArray[np.floating],
    b: npt.NDArray[np.floating],
    c: npt.NDArray[np.floating],
    trans_a: bool,
    trans_b: bool,
    alpha: float,
    beta: float,
) -> npt.NDArray[np.floating]: ...
