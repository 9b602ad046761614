"""How far two float32 evaluations of one sum may differ: the tolerance of tests that compare a sum computed
one way against the same sum computed another (another reduction order, kernel blocking, SIMD width or
process split, or a float64 reference).

A float32 sum of K terms, in whatever order, is within γ_K·Σ|terms| ≈ K·u·Σ|terms| of the exact sum
(Higham, Accuracy and Stability of Numerical Algorithms, §4.2), u = 2⁻²⁴ the unit roundoff; two orders are
each that close, so twice that apart at most. The bound holds for any summation algorithm, so it holds on a
CPU that picks another kernel than this one; a mean is the sum's bound over K, i.e. K·u·mean|terms|.
"""

FLOAT32_UNIT_ROUNDOFF = 2.0**-24


def reduction_order_tolerance(terms: int, magnitude: float) -> float:
    """The most a float32 sum of ``terms`` terms may move between two orders of summation, where
    ``magnitude`` bounds the sum of the terms' absolute values (for a mean: the mean of them)."""
    return 2 * terms * FLOAT32_UNIT_ROUNDOFF * magnitude
