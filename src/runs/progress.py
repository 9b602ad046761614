"""The progress bar of a run: Lightning's, without ``v_num`` (the logger's version, which says nothing
here: the run directory is the run's identity)."""

from pytorch_lightning.callbacks import TQDMProgressBar


class RunProgressBar(TQDMProgressBar):
    def get_metrics(self, trainer, module) -> dict:
        items = super().get_metrics(trainer, module)
        items.pop("v_num", None)
        return items


def progress_bar(enabled: bool) -> list[RunProgressBar]:
    """The bar as a callback list (Lightning refuses a bar callback when the bar is disabled)."""
    return [RunProgressBar()] if enabled else []
