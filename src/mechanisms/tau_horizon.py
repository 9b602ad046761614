"""The horizon of a constant moving-average rate τ, as pure functions of floats (no torch: the analysis draws
the horizons in a study's report, in the sweep's main process).

A constant τ is a horizon in steps, not in run lengths: after h steps the target keeps τ^h of its
weights, so its half-life is h = ln ½ / ln τ (τ = 0.99: 69 steps, a quarter of a 300-step run but a
twentieth of a 1,500-step one). ``restated_tau`` carries τ stated for an S-step run over to a T-step run
at the same half-life as a fraction of the run, τ^(S/T), so a budget sweep compares like with like.
"""

import math


def half_life(tau: float) -> float:
    """The half-life h in steps of a constant rate τ ∈ [0, 1]: τ^h = ½ (0 for τ = 0, ∞ for τ = 1)."""
    if tau == 0.0:
        return 0.0
    return math.inf if tau == 1.0 else math.log(0.5) / math.log(tau)


def restated_tau(tau: float, stated_for_steps: int, total_steps: int) -> float:
    """τ stated for a run of S steps, restated for a run of T steps at the same half-life as a fraction of
    the run: h(τ')/T = h(τ)/S gives τ' = τ^(S/T) (τ = 0 and 1, horizons 0 and ∞, stay as they are)."""
    return tau ** (stated_for_steps / total_steps)
