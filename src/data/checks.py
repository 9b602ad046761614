"""Config checks shared by the data modules: each failure is one ConfigError line naming ``data.<key>``
and what is allowed (house rule for bad input)."""

from collections.abc import Collection

from src.errors import ConfigError


def require_int(key: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int in [minimum, maximum] (bools are refused: YAML ``true`` is not a size)."""
    in_range = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    if not in_range or (maximum is not None and value > maximum):
        allowed = f"≥ {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ConfigError(f"data.{key} must be an integer {allowed}, got {value!r}")
    return value


def require_float(
    key: str, value: object, low: float, high: float, *, open_low: bool = False, open_high: bool = False
) -> float:
    """``value`` as a float in the interval from ``low`` to ``high`` (ends closed unless ``open_*``)."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    above_low = number and (value > low or (value == low and not open_low))
    if above_low and (value < high or (value == high and not open_high)):
        return float(value)
    interval = f"{'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
    raise ConfigError(f"data.{key} must be a number in {interval}, got {value!r}")


def require_choice(key: str, value: object, choices: Collection[str]) -> str:
    if value not in choices:
        raise ConfigError(f"data.{key} must be one of {', '.join(sorted(choices))}, got {value!r}")
    return value
