"""Multi-process training is single-process training on the whole batch (docs/design.md §4).

The end-to-end test starts two CPU processes (gloo) the way SLURM or torchrun would (each process is
told its rank; Lightning joins them, it does not launch them) and runs two steps of the real module with
`trainer=ddp`, global batch 2B, so each process trains on B rows. One process on the same 2B batch must
give the same loss (the mean of the two processes' losses) and the same gradients, step after step, for
β = 0 and for β > 0 (targets detached, and targets carrying gradient through the gather), on the
embedded stereograms (augmented on the CPU) and on CIFAR-10 files (augmented after transfer, each
process applying its rows of the global batch's draws); and for the state one step leaves the next
(MoCo's queue of gathered keys, DirectPred's correlation estimate F).

NOTE: the networks have no BatchNorm here. SyncBatchNorm would make per-process batch statistics equal
the whole batch's, but torch implements it for accelerators only (it refuses CPU tensors), so on CPU
BatchNorm would compute statistics over B instead of 2B rows and the runs would rightly differ.
"""

import os
import socket
from functools import partial

import pytest
import pytorch_lightning as pl
import torch
import torch.multiprocessing as mp
from torchvision import datasets

from src.cli.resolvers import build
from src.core.errors import ConfigError
from src.data.base import local_rows
from src.mechanisms.distributed import gather_rows
from src.mechanisms.losses import symmetric_loss
from src.train import build_module
from tests.conftest import compose_config
from tests.fake_image_files import accept_files, write_cifar10
from tests.float_tolerance import reduction_order_tolerance

WORLD = 2
BASE = [
    "trainer.max_steps=2", "trainer.accelerator=cpu", "trainer.enable_progress_bar=false", "data.batch_size=16",
    "model.projector.hidden_dim=32", "model.projector.out_dim=16", "logger=csv",
]  # fmt: skip
STEREO = ["data.num_probe_train=256", "data.num_test=128", "data.num_eval=64", "model.backbone.hidden_dim=32"]
CIFAR = ["data=cifar10", "data.num_eval=4", "model/backbone=cnn"]
NO_BN = ["model.backbone.norm=none", "model.projector.norm=none"]
CASES = {
    "byol": [*STEREO, "+ablation=byol", *NO_BN, "model.predictor.net.norm=none"],  # β = 0
    "byol_negatives": [
        *STEREO,
        "+ablation=byol_negatives",
        *NO_BN,
        "model.predictor.net.norm=none",
    ],  # t detached
    "simclr": [*STEREO, "+ablation=simclr", *NO_BN],  # β = 1, gradients flow through the gathered targets
    "cifar_simclr": [*CIFAR, "+ablation=simclr", *NO_BN],  # views built after transfer, per process
    # Step 2 reads what step 1 left: MoCo's queue of keys gathered from every process (rank-major, the
    # single process's row order), and DirectPred's F estimated from every process's z.
    "moco": [*STEREO, "+ablation=moco", *NO_BN],
    "directpred": [*STEREO, "+ablation=directpred", *NO_BN],
}


def case_overrides(case: str, data_root) -> list[str]:
    overrides = [*BASE, *CASES[case]]
    return [*overrides, f"data.root={data_root}"] if "data=cifar10" in overrides else overrides


def fake_cifar(root, monkeypatch: pytest.MonkeyPatch) -> None:
    """40 train and 8 test images in CIFAR-10's layout under root (once), accepted by torchvision."""
    if not (root / "cifar-10-batches-py").exists():
        write_cifar10(root, per_batch=8, num_test=8)
    accept_files(monkeypatch, root, datasets.CIFAR10)


class Recorder(pl.Callback):
    """Rows per batch, the loss each step returns and every gradient as the optimizer sees it (after DDP's
    averaging)."""

    def __init__(self):
        self.rows: list[int] = []
        self.losses: list[float] = []
        self.grads: list[dict[str, torch.Tensor]] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.grads.append({n: p.grad.clone() for n, p in pl_module.named_parameters() if p.grad is not None})

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.rows.append(len(batch[0]))
        self.losses.append(float(outputs["loss"]))


def train_steps(overrides: list[str], root) -> dict:
    cfg = compose_config(overrides)
    pl.seed_everything(cfg.seed, verbose=False)
    datamodule = build(cfg.data)
    module = build_module(cfg, datamodule)
    recorder = Recorder()
    trainer = build(
        cfg.trainer, logger=False, callbacks=[recorder], enable_checkpointing=False, default_root_dir=root
    )
    trainer.fit(module, datamodule=datamodule)
    return {"rows": recorder.rows, "losses": recorder.losses, "grads": recorder.grads}


def ddp_worker(rank: int, port: int, out_dir: str, data_root: str) -> None:
    """One of WORLD processes, started as a cluster would start it: Lightning sees LOCAL_RANK and joins."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(WORLD), RANK=str(rank),
        LOCAL_RANK=str(rank), NODE_RANK="0",
    )  # fmt: skip
    torch.set_num_threads(1)
    for name in CASES:
        record = train_steps(
            [*case_overrides(name, data_root), "trainer=ddp", f"trainer.devices={WORLD}"], out_dir
        )
        torch.save(record, os.path.join(out_dir, f"{name}-rank{rank}.pt"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("cifar")


@pytest.fixture(scope="module")
def ddp_records(tmp_path_factory, data_root):
    out = tmp_path_factory.mktemp("ddp")
    with pytest.MonkeyPatch.context() as monkeypatch:
        fake_cifar(data_root, monkeypatch)
        # fork: the workers inherit the imported modules (a fresh interpreter mostly imports) and the patch
        args = (free_port(), str(out), str(data_root))
        mp.start_processes(ddp_worker, args=args, nprocs=WORLD, start_method="fork")
    return {
        name: [torch.load(out / f"{name}-rank{r}.pt", weights_only=True) for r in range(WORLD)]
        for name in CASES
    }


@pytest.mark.parametrize("case", list(CASES))
def test_two_processes_of_b_equal_one_process_of_2b(case, ddp_records, data_root, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    fake_cifar(data_root, monkeypatch)
    single = train_steps(case_overrides(case, data_root), tmp_path)
    ranks = ddp_records[case]
    assert len(single["losses"]) == len(single["grads"]) == 2
    assert single["rows"] == [16, 16] and all(r["rows"] == [8, 8] for r in ranks)  # each process: its half
    for step in range(2):
        # Each process's loss is the mean over its B rows, so their mean is the mean over 2B rows.
        ddp_loss = sum(r["losses"][step] for r in ranks) / WORLD
        assert ddp_loss == pytest.approx(single["losses"][step], rel=1e-5), step
        expected = single["grads"][step]
        for r in ranks:
            assert r["grads"][step].keys() == expected.keys()
            for name, grad in expected.items():
                atol = gradient_tolerance(grad)
                torch.testing.assert_close(r["grads"][step][name], grad, rtol=1e-4, atol=atol, msg=name)


# Two processes sum a gradient in another order than one process (each reduces its B rows, then the
# all-reduce adds the two), and a matmul over B rows may pick another kernel blocking than over 2B rows
# (tests/float_tolerance.py: two orders of a float32 sum of K terms are ≤ 2·K·u·Σ|terms| apart). Every
# gradient entry is such a sum, over the batch and over the widest layer on its path; K = 1024 bounds both
# here (batch 16; the widest inner product, a 3×3×64 convolution, 576). Σ|terms| is taken as twice the
# tensor's largest entry, for the cancellation the bound cannot see. An entry near zero thus gets the
# absolute slack of its tensor's scale (measured on an AMD EPYC: 1.5e-6 on an online_probe.weight entry
# whose tensor peaks at 0.049, i.e. 3e-5 of the peak against this bound's 2.4e-4), while a wrong scaling
# of the gradient (a missing 1/W: 50 %) still fails by orders of magnitude.
LONGEST_REDUCTION = 1024


def gradient_tolerance(grad: torch.Tensor) -> float:
    return reduction_order_tolerance(LONGEST_REDUCTION, 2 * grad.abs().max().item())


def simulated_gather(t: torch.Tensor, candidates: dict, offset: int) -> tuple[torch.Tensor, int]:
    return candidates[id(t)], offset


def test_rank_major_shards_of_gathered_candidates_reproduce_the_whole_batch():
    """The loss maths alone: W processes' losses, each on its B rows against all W·B candidates (its
    own rows at offset rank·B), average to the whole batch's loss, with the same gradients."""
    g = torch.Generator().manual_seed(0)
    b, d = 3, 5
    full = [torch.randn(WORLD * b, d, generator=g, requires_grad=True) for _ in range(4)]  # p1, p2, t1, t2
    whole = symmetric_loss(*full, negatives_weight=0.7, temperature=0.3)["loss"]
    shards = []
    for rank in range(WORLD):
        rows = slice(rank * b, (rank + 1) * b)
        p1, p2, t1, t2 = (x[rows] for x in full)
        # What gather_rows returns on process `rank`: the rows of every process, its own at rank·b.
        gather = partial(simulated_gather, candidates={id(t1): full[2], id(t2): full[3]}, offset=rank * b)
        shards.append(symmetric_loss(p1, p2, t1, t2, 0.7, 0.3, gather=gather)["loss"])
    sharded = torch.stack(shards).mean()
    torch.testing.assert_close(sharded, whole)
    for a, e in zip(torch.autograd.grad(sharded, full), torch.autograd.grad(whole, full), strict=True):
        torch.testing.assert_close(a, e)


def test_gather_is_the_identity_in_one_process():
    x = torch.randn(4, 3)
    rows, offset = gather_rows(x)
    assert rows is x and offset == 0


def test_local_rows_split_the_global_batch_in_rank_order():
    x, y = torch.arange(12).view(6, 2), torch.arange(6)
    shards = [local_rows((x, y, 7), rank, 3) for rank in range(3)]
    assert torch.equal(torch.cat([s[0] for s in shards]), x) and torch.equal(
        torch.cat([s[1] for s in shards]), y
    )
    assert torch.equal(shards[1][1], torch.tensor([2, 3])) and all(s[2] == 7 for s in shards)
    with pytest.raises(ConfigError, match=r"data\.batch_size=6 must be divisible"):
        local_rows((x, y), 0, 4)
