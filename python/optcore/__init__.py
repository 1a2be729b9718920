"""optcore: fast, reproducible experiments for the theory of deep-learning optimization.

The engine (:func:`run_sgd`) runs many independent SGD runs -- with replacement, random reshuffling, single
shuffle, incremental, FlipFlop, SyncShuf or explicit orders; minibatch or local SGD with M workers -- in one call
to a C++ core, with counter-based (Philox) randomness that makes every run replayable.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("optcore")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without installing
    __version__ = "0+unknown"

# importing _blas registers OpenBLAS for the wide-layer network pass (see _blas.py)
from . import _blas, games, nn, orders, problems, reference, schedules, spectrum  # noqa: F401
from ._backend import GPUStatus, gpu_available, gpu_status, gpu_unavailable_reason
from ._threads import default_threads, set_default_threads
from .nn import MLP, NetworkProblem, NonFiniteWarning
from .orders import epoch_orders
from .problems import (
    Exponential,
    HuberRegression,
    LeastSquares,
    Logistic,
    LowerBound1D,
    PoissonRegression,
    QuadraticComponents,
    SquaredHinge,
)
from .sgd import DivergenceWarning, SGDPlan, SGDResult, run_sgd, sgd_plan
from .user_problems import UserProblem

__all__ = [
    "__version__",
    "DivergenceWarning",
    "Exponential",
    "HuberRegression",
    "LeastSquares",
    "Logistic",
    "LowerBound1D",
    "MLP",
    "NetworkProblem",
    "NonFiniteWarning",
    "PoissonRegression",
    "QuadraticComponents",
    "SGDPlan",
    "SGDResult",
    "SquaredHinge",
    "UserProblem",
    "default_threads",
    "epoch_orders",
    "games",
    "GPUStatus",
    "gpu_available",
    "gpu_status",
    "gpu_unavailable_reason",
    "nn",
    "orders",
    "problems",
    "reference",
    "run_sgd",
    "schedules",
    "set_default_threads",
    "sgd_plan",
    "spectrum",
]
