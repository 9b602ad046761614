"""The one family of value checks (house rule for bad input): each failure is one ConfigError line that
names the full config key (``data.batch_size``, ``model.target.tau``) and what is allowed. Components
call these in their constructors; the preflight (src/cli/preflight.py) calls them for the settings no
component owns."""

import math
from collections.abc import Collection

from src.core.errors import ConfigError


def require_int(key: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int in [minimum, maximum] (bools are refused: YAML ``true`` is not a size)."""
    in_range = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    if not in_range or (maximum is not None and value > maximum):
        allowed = f"≥ {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ConfigError(f"{key} must be an integer {allowed}, got {value!r}")
    return value


def require_float(
    key: str,
    value: object,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    open_low: bool = False,
    open_high: bool = False,
) -> float:
    """``value`` as a finite float in the interval from ``low`` to ``high`` (ends closed unless ``open_*``;
    infinities and NaN are always refused: ``optimizer.lr=inf`` is not a learning rate)."""
    number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    above_low = number and (value > low or (value == low and not open_low))
    if above_low and (value < high or (value == high and not open_high)):
        return float(value)
    if math.isinf(high):
        allowed = f"{'>' if open_low else '≥'} {low:g}"
    else:
        allowed = f"in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
    raise ConfigError(f"{key} must be a finite number {allowed}, got {value!r}")


def require_choice(key: str, value: object, choices: Collection[str]) -> str:
    """``value`` if it is one of ``choices`` (listed in the order given)."""
    if value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(map(str, choices))}, got {value!r}")
    return value


def require_bool(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    return value
