"""One LightningModule that composes the parts it is given (docs/design.md §3). No class per method:
BYOL, SimSiam, SimCLR and every ablation row are configurations of this module.

    online:  x ─ encoder (backbone → h → projector → z) ─ predictor (side=online) ─ p
    target:  x ─ target(x, z) ─ predictor (side=target, frozen) ─ t
    loss:    objective(p1, p2, t1, t2)        (p is z itself when the predictor sits on the target side)

Two execution options leave the maths unchanged: ``channels_last`` stores conv weights and image inputs
NHWC (faster convolutions under mixed precision on GPUs), ``compile`` compiles the networks with
``torch.compile`` when fitting starts. They live with the model because the module applies them to its
own networks and inputs; the Trainer (conf/trainer) keeps what Lightning owns: precision, devices,
strategy, SyncBatchNorm.
"""

from collections.abc import Callable

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from src.core.checks import require_bool, require_choice
from src.core.errors import ConfigError
from src.mechanisms.distributed import gather_rows
from src.mechanisms.losses import Objective
from src.mechanisms.queue import KeyQueue
from src.models.encoder import Encoder


def online_probe_loss(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy and accuracy of the online probe over the labelled rows only.

    logits: (B, C); labels: (B,), −1 for unlabelled images (STL-10's unlabeled split) → ((), ()).
    A batch without labels gives 0 for both, without a host sync (no branching on the count).
    """
    labelled = labels >= 0
    count = labelled.sum().clamp(min=1)
    loss = F.cross_entropy(logits, labels.clamp(min=0), reduction="none")  # (B,)
    correct = (logits.argmax(1) == labels).float()  # (B,); −1 never matches
    return (loss * labelled).sum() / count, (correct * labelled).sum().detach() / count


class SSLModule(pl.LightningModule):
    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_classes: int,
        backbone: Callable[..., nn.Module],
        projector: Callable[..., nn.Module],
        predictor: Callable[..., nn.Module],
        predictor_side: str,
        target: Callable[..., nn.Module],
        objective: Objective,
        optimizer: Callable[..., tuple],
        channels_last: bool = False,
        compile: bool = False,
        predictor_trained: bool = True,
    ):
        super().__init__()
        require_choice("model.predictor.side", predictor_side, ("online", "target"))
        require_bool("model.predictor.trained", predictor_trained)
        backbone_module = backbone(input_shape)
        projector_module = projector(backbone_module.out_dim)
        self.encoder = Encoder(backbone_module, projector_module)
        self.predictor = predictor(projector_module.out_dim)
        self.predictor_side = predictor_side
        self.target = target(online=self.encoder)
        if predictor_side == "target":
            if self.target.uses_online_output:
                raise ConfigError(
                    "model.predictor.side=target needs a separate target network (model/target=ema, frozen"
                    " or ensemble); with model/target=online the predictor would sit on the online network"
                )
            if getattr(self.predictor, "tracks_projections", False):
                raise ConfigError(
                    "model.predictor.side must be online for model/predictor=directpred|directcopy (W is set"
                    " from the online projections), got target"
                )
        if predictor_side == "target" or not predictor_trained:
            # The seed's point: on the target side the predictor receives no gradient and stays random;
            # `trained: false` keeps a random predictor on the online side (SimSiam Table 1).
            self.predictor.requires_grad_(False)
        self.predictor_tracks = getattr(self.predictor, "tracks_projections", False)  # DirectPred/Copy
        # A cheap monitor (docs/design.md §5): a linear classifier on detached h, trained alongside.
        self.online_probe = nn.Linear(backbone_module.out_dim, num_classes)
        self.objective = objective
        # MoCo's queue: a module so that its keys are in the checkpoint; filled after each optimizer step.
        self.negatives_queue = (
            KeyQueue(objective.queue_size, projector_module.out_dim)
            if objective.negatives == "queue"
            else None
        )
        if self.negatives_queue is not None and self.target.members_learn:
            raise ConfigError(
                "model.loss.negatives must be batch with model/target=learned_ensemble (K predictions per"
                " sample), got queue"
            )
        self._pending_keys: list[torch.Tensor] = []
        self.make_optimizer = optimizer
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if channels_last:
            self.to(memory_format=torch.channels_last)  # every 4-D conv weight, online and target alike
        self.compile_networks = compile

    def setup(self, stage: str) -> None:
        if self.compile_networks and stage == "fit":
            # In place (nn.Module.compile): parameter names, the optimizer and the EMA see the same tensors.
            for network in (self.encoder, self.predictor, self.target):
                network.compile()

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        """x in the memory format of the conv weights (images only)."""
        return x.contiguous(memory_format=self.memory_format) if x.dim() == 4 else x

    @property
    def measured(self) -> tuple[str, ...]:
        """The representations the collapse monitor measures: h, z, and p when an online predictor
        makes one (on the target side, or as the identity, p would only repeat z)."""
        has_p = self.predictor_side == "online" and not isinstance(self.predictor, nn.Identity)
        return ("h", "z", "p") if has_p else ("h", "z")

    def forward_view(self, x: torch.Tensor, with_target: bool = True) -> dict[str, torch.Tensor]:
        """The one per-view forward pass, for training and for measurement alike.

        x: (B, *input_shape) → h (B, h_dim), z (B, z_dim), p (B, z_dim): the prediction, z itself when
        the predictor sits on the target side; and with ``with_target`` t (B, z_dim), the regression
        target of the *other* view's prediction (detached unless the target is the online network without
        stop-gradient; passed through the frozen predictor when it sits on the target side). With a learned
        ensemble (``target.members_learn``) and ``with_target``, p and t hold one block of B rows per
        member, (K·B, z_dim) each, member 0 the online network.
        """
        x = self._input(x)
        h, z = self.encoder(x)
        online_predictor = self.predictor_side == "online"
        t = None
        if with_target and self.target.members_learn:
            # Becker–Hinton learned ensemble: one prediction and one target per member, (K·B, d) each;
            # the predictor sees each member's batch separately (BatchNorm statistics per member).
            members = self.target.member_projections(x, z)  # (K, B, d), member 0 = z
            p = torch.cat([self.predictor(m) for m in members]) if online_predictor else members.flatten(0, 1)
            t = self.target.member_targets(members).flatten(0, 1)
        else:
            # NOTE: "p" is the online output the objective compares with t. With the predictor on the
            # target side there is no prediction and "p" is z itself (in the learned-ensemble branch above,
            # each member's projection); `measured` then leaves it out.
            p = self.predictor(z) if online_predictor else z
            if with_target:
                t = self.target(x, z)
        out = {"h": h, "z": z, "p": p}
        if with_target:
            if not online_predictor:
                with torch.no_grad():
                    t = self.predictor(t)
            out["t"] = t
        return out

    def _logs_this_step(self) -> bool:
        """Whether Lightning writes this training step's logged values to the loggers: only every
        ``trainer.log_every_n_steps`` steps. ``self.log`` costs ~1 ms per value on a CPU; on the other steps
        it would reach no file, only the progress bar (tests/test_speed_invariance.py)."""
        trainer = self.trainer
        if trainer.fast_dev_run:
            return True
        if trainer.log_every_n_steps == 0:
            return False
        # NOTE: Lightning's own test is private (LoggerConnector.should_update_logs, and fast_dev_run in
        # update_train_step_metrics; pytorch_lightning 2.x, read in 2.6.6): this is its fit-loop rule from
        # public attributes. It counts the batches that stepped (+ 1 while a step runs); during
        # training_step and optimizer_step (automatic optimisation, one optimizer) that count is
        # global_step, resumed runs included.
        return (trainer.global_step + 1) % trainer.log_every_n_steps == 0 or trainer.should_stop

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> dict[str, torch.Tensor]:
        x1, x2, y = batch
        # NOTE: each view is its own forward pass (BYOL, solo-learn), so BatchNorm statistics are per view.
        v1, v2 = self.forward_view(x1), self.forward_view(x2)
        losses = self.objective(v1["p"], v2["p"], v1["t"], v2["t"], self.negatives_queue)
        if self.negatives_queue is not None:  # enqueued after the optimizer step, from every process
            self._pending_keys.append(gather_rows(torch.cat([v1["t"], v2["t"]]).detach())[0])
        if self.predictor_tracks:  # DirectPred/DirectCopy: F̂ from this step's projections, all processes
            self.predictor.observe(gather_rows(torch.cat([v1["z"], v2["z"]]).detach())[0])
        logits = self.online_probe(torch.cat([v1["h"], v2["h"]]).detach())
        probe_loss, probe_acc = online_probe_loss(logits, torch.cat([y, y]))
        loss = losses.pop("loss")
        if self._logs_this_step():
            self.log("train/loss", loss, prog_bar=True)
            self.log_dict({f"train/{k}": v for k, v in losses.items()})
            self.log_dict({"probe/online_loss": probe_loss, "probe/online_acc": probe_acc})
        # "train/loss" reaches the callbacks every step through the outputs (src/runs/divergence_guard.py).
        return {"loss": loss + probe_loss, "train/loss": loss.detach()}

    def optimizer_step(self, *args, **kwargs) -> None:
        # The target update happens here, after the optimizer step and once per step: Lightning calls
        # this hook only on gradient-accumulation boundaries, so accumulation never updates it twice.
        super().optimizer_step(*args, **kwargs)
        # global_step still counts the steps before this one here: the k-th update (from 0) uses τ(k).
        logs = self.target.update(
            self.encoder, self.trainer.global_step, self.trainer.estimated_stepping_batches
        )
        if logs and self._logs_this_step():
            self.log_dict(logs)
        if self.predictor_tracks:
            self.predictor.refresh(self.trainer.global_step)
        for keys in self._pending_keys:
            self.negatives_queue.push(keys)
        self._pending_keys.clear()

    def configure_optimizers(self):
        parts = {"encoder": self.encoder, "predictor": self.predictor, "probe": self.online_probe}
        if any(p.requires_grad for p in self.target.parameters()):
            parts["target"] = self.target  # only learned ensemble weights are trainable there
        optimizer, scheduler = self.make_optimizer(
            parts=parts, total_steps=self.trainer.estimated_stepping_batches
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
