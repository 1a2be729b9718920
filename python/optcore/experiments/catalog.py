"""The one place where the package's own experiments are listed; the registry loads them on first use.

To add an experiment: write a module defining an :class:`~optcore.experiments.Experiment` (a module-level
``run(config, seed)`` function, its parameters, summary and figure), then add it to :data:`EXPERIMENTS`.
"""

from __future__ import annotations

from ..approximation.studies import COMPOSITIONAL_APPROXIMATION
from ..dynamics.digits import DIGITS
from ..dynamics.studies import DYNAMICS
from ..implicit_bias.studies_classification import CLASSIFICATION as IB_CLASSIFICATION
from ..implicit_bias.studies_regression import REGRESSION as IB_REGRESSION
from ..landscape.studies import PCA, PLATEAU, SPURIOUS, THEOREM1_PATH
from ..memorization.studies import CAPACITY, NEAR_MINIMUM
from ..shuffling.studies_grab import GRAB
from ..shuffling.studies_machines import MACHINES
from ..shuffling.studies_matrices import MATRICES
from ..shuffling.studies_rates import FLIPFLOP, NONCOMMUTING, RATES, SEPARATIONS
from ..shuffling.studies_torch import TORCH_DIGITS  # imports torch only when a cell runs

#: the package's experiments (``optcore list`` shows them sorted by name)
EXPERIMENTS = (RATES, NONCOMMUTING, SEPARATIONS, FLIPFLOP, MACHINES, MATRICES, GRAB, CAPACITY, NEAR_MINIMUM)
EXPERIMENTS += (IB_REGRESSION, IB_CLASSIFICATION, DYNAMICS, DIGITS)
EXPERIMENTS += (SPURIOUS, THEOREM1_PATH, PCA, PLATEAU)  # loss landscapes (optcore.landscape)
EXPERIMENTS += (COMPOSITIONAL_APPROXIMATION,)
EXPERIMENTS += (TORCH_DIGITS,)  # a PyTorch training loop with optcore.torch's samplers (needs optcore[torch])
