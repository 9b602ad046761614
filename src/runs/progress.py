"""The progress bar of a run: Lightning's, without ``v_num`` (the logger's version, which says nothing
here: the run directory is the run's identity), redrawn every ``log_every_n_steps`` steps, when the loss
it shows changes (src/ssl_module.py logs on those steps only): redrawn every step it cost ~2 ms a step,
5-8 % of a default CPU step."""

from omegaconf import DictConfig
from pytorch_lightning.callbacks import TQDMProgressBar


class RunProgressBar(TQDMProgressBar):
    def get_metrics(self, trainer, module) -> dict:
        items = super().get_metrics(trainer, module)
        items.pop("v_num", None)
        return items


def progress_bar(trainer_cfg: DictConfig) -> list[RunProgressBar]:
    """The bar as a callback list (Lightning refuses a bar callback when the bar is disabled)."""
    if not trainer_cfg.enable_progress_bar:
        return []
    return [RunProgressBar(refresh_rate=max(trainer_cfg.log_every_n_steps, 1))]
