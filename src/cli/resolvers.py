"""Composition helpers of the entry point, the studies and the tests: the custom resolvers and ``build``."""

from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from src.core.errors import SuiteError
from src.runs.naming import folder_name, row_label
from src.runs.record import hydra_choices


def build(node, *args, **kwargs):
    """``hydra.utils.instantiate`` that lets the suite's own one-line errors through unwrapped (Hydra
    wraps every constructor error in an InstantiationException with its own multi-line message)."""
    try:
        return instantiate(node, *args, **kwargs)
    except InstantiationException as exc:
        if isinstance(exc.__cause__, SuiteError):
            raise exc.__cause__ from None
        raise


def _choice(group: str, default: str) -> str:
    return hydra_choices().get(group, default)


# `${choice:ablation,byol}`: the ablation row of this run; the baseline when no `+ablation=` was given.
if not OmegaConf.has_resolver("choice"):
    OmegaConf.register_new_resolver("choice", _choice)


def _label(row: str) -> str:
    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    return row_label(row, overrides, hydra_choices().get("experiment"))


# `${row_label:ROW}`: ROW, after the recipe if one was chosen and before the overrides that change what the
# run computes (src/runs/naming.py).
if not OmegaConf.has_resolver("row_label"):
    OmegaConf.register_new_resolver("row_label", _label)
# `${folder:${row}}`: a label as one path component.
if not OmegaConf.has_resolver("folder"):
    OmegaConf.register_new_resolver("folder", folder_name)
