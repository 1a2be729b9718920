"""Last-iterate dynamics of bilinear zero-sum games (RELATED.md section 4): many runs per call in C++.

The game is max_{x} min_{y} x^T A y, on the simplices (matrix games) or unconstrained. :func:`run_game` runs MWU,
OMWU, GDA, OGDA and extragradient for many runs at once (per-run step sizes, starts and games), recording the KL
divergence to the equilibrium, the duality gap (of the last and of the average iterate) and the distance;
:func:`solve_game` finds the equilibrium by linear programming (HiGHS) and certifies its uniqueness;
:func:`local_rate` is the closed-form asymptotic rate and :func:`jacobian_radius` its numerical counterpart.
"""

from __future__ import annotations

from .dynamics import DOMAINS, METHODS, GameResult, random_games, run_game
from .equilibrium import Equilibrium, solve_game
from .rates import jacobian, jacobian_radius, local_rate, mode_frequencies, mode_rate

__all__ = [
    "DOMAINS",
    "METHODS",
    "Equilibrium",
    "GameResult",
    "jacobian",
    "jacobian_radius",
    "local_rate",
    "mode_frequencies",
    "mode_rate",
    "random_games",
    "run_game",
    "solve_game",
]
