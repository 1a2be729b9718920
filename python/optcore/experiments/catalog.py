"""optcore's own studies as entry-point references: data only, this module imports no study.

The registry finds experiments through the ``optcore.experiments`` entry-point group, optcore's own included:
``pyproject.toml`` lists them under ``[project.entry-points."optcore.experiments"]``, and an installed optcore
carries that list in its distribution metadata. :data:`BUILTIN` is the same list, for the one case where that
metadata does not have it: optcore imported from a source tree (``PYTHONPATH=python``) next to no install or an
older one. A test checks that the two lists agree.

To add a study to the package: write a module that defines an :class:`~optcore.experiments.Experiment` (see
docs/experiments.md), then add ``"NAME" = "package.module:ATTRIBUTE"`` to the entry points in ``pyproject.toml``
and the same pair to :data:`BUILTIN`.
"""

from __future__ import annotations

#: experiment name -> ``"module:attribute"`` of its Experiment (the same pairs as pyproject.toml's entry points)
BUILTIN: dict[str, str] = {
    "bw-deep-linear": "optcore.implicit_bias.bures_wasserstein.studies:BW_DEEP_LINEAR",
    "coarse-gradient": "optcore.quantized.studies:COARSE_GRADIENT",
    "compositional-approximation": "optcore.approximation.studies:COMPOSITIONAL_APPROXIMATION",
    "dynamics-digits": "optcore.dynamics.digits:DIGITS",
    "dynamics-normalized": "optcore.dynamics.studies:DYNAMICS",
    "edge-of-stability": "optcore.spectrum.studies:EDGE_OF_STABILITY",
    "hessian-density": "optcore.spectrum.studies:HESSIAN_DENSITY",
    "implicit-bias-classification": "optcore.implicit_bias.studies_classification:CLASSIFICATION",
    "implicit-bias-regression": "optcore.implicit_bias.studies_regression:REGRESSION",
    "landscape-pca": "optcore.landscape.studies:PCA",
    "last-iterate": "optcore.games.studies:LAST_ITERATE",
    "memorization-capacity": "optcore.memorization.studies:CAPACITY",
    "memorization-near-minimum": "optcore.memorization.studies:NEAR_MINIMUM",
    "shuffling-flipflop": "optcore.shuffling.studies_rates:FLIPFLOP",
    "shuffling-grab": "optcore.shuffling.studies_grab:GRAB",
    "shuffling-machines": "optcore.shuffling.studies_machines:MACHINES",
    "shuffling-matrix-products": "optcore.shuffling.studies_matrices:MATRICES",
    "shuffling-noncommuting": "optcore.shuffling.studies_rates:NONCOMMUTING",
    "shuffling-rates": "optcore.shuffling.studies_rates:RATES",
    "shuffling-separations": "optcore.shuffling.studies_rates:SEPARATIONS",
    "sparse-benign-overfitting": "optcore.implicit_bias.studies_sparse:SPARSE_BENIGN_OVERFITTING",
    "spurious-minima": "optcore.landscape.studies:SPURIOUS",
    "theorem1-path": "optcore.landscape.studies:THEOREM1_PATH",
    "theorem1-plateau": "optcore.landscape.studies:PLATEAU",
    "torch-digits-orders": "optcore.shuffling.studies_torch:TORCH_DIGITS",  # PyTorch only when a cell runs
}
