"""MoCo's queue of negatives: FIFO, exactly Q keys after wrap-around, a sample's own key never among its
negatives, the loss against an InfoNCE-with-queue written here, `negatives: batch` bit for bit the loss
before the queue existed, and exact resume with a queue."""

import importlib.util
import signal
import subprocess

import pytest
import torch
import torch.nn.functional as F

from src.mechanisms.losses import Objective, queue_negatives_term, symmetric_loss
from src.mechanisms.queue import KeyQueue
from tests.conftest import ROOT
from tests.run_cli import run_cli
from tests.test_module import built
from tests.test_resume import LONG, assert_resumes_to_the_uninterrupted_result, kill_mid_run

BEFORE_QUEUE = "fd24375"  # the commit whose losses.py had batch negatives only


def unit_rows(n: int, d: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(n, d, generator=torch.Generator().manual_seed(seed)), dim=-1)


def held(queue: KeyQueue) -> set[tuple[float, ...]]:
    keys, valid = queue.contents()
    return {tuple(k.tolist()) for k in keys[valid]}


def test_queue_is_fifo_and_holds_exactly_q_keys_after_wrap_around():
    queue = KeyQueue(size=10, dim=4)
    pushed = [unit_rows(4, 4, seed) for seed in range(5)]  # 20 keys through a queue of 10
    assert held(queue) == set()
    queue.push(pushed[0])
    assert held(queue) == {tuple(k.tolist()) for k in pushed[0]}
    for keys in pushed[1:]:
        queue.push(keys)
    everything = torch.cat(pushed)
    assert int(queue.contents()[1].sum()) == 10
    assert held(queue) == {tuple(k.tolist()) for k in everything[-10:]}  # the last 10, the oldest gone
    with pytest.raises(ValueError):
        queue.push(unit_rows(11, 4, 9))


def independent_moco_info_nce(
    q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, t: float
) -> torch.Tensor:
    """MoCo v2's loss from its pseudo-code: logits [q·k⁺, q·queue]/t, cross-entropy with label 0."""
    q, k, queue = (F.normalize(x, dim=1) for x in (q, k, queue))
    logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.T], dim=1) / t
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long))


@pytest.mark.parametrize("temperature", [0.2, 0.5])
def test_beta_one_with_a_queue_is_mocos_info_nce(temperature):
    g = torch.Generator().manual_seed(0)
    p1, p2, t1, t2 = (torch.randn(6, 8, generator=g) for _ in range(4))
    keys = torch.randn(12, 8, generator=g)
    valid = torch.arange(12) < 9  # 3 slots still empty: never negatives
    ours = symmetric_loss(p1, p2, t1, t2, 1.0, temperature, queue=(keys, valid))["loss"]
    reference = 0.5 * sum(
        independent_moco_info_nce(p, t, keys[:9], temperature) for p, t in ((p1, t2), (p2, t1))
    )
    torch.testing.assert_close(ours, 2.0 + 2.0 * temperature * reference)


def test_an_empty_queue_leaves_only_the_positive():
    p, t = torch.randn(5, 3), torch.randn(5, 3)
    value = queue_negatives_term(p, t, torch.zeros(4, 3), torch.zeros(4, dtype=torch.bool), 0.5)
    torch.testing.assert_close(value, 2.0 * F.cosine_similarity(p, t).mean())


def test_batch_negatives_are_bit_identical_to_the_loss_before_the_queue():
    source = subprocess.run(
        ["git", "show", f"{BEFORE_QUEUE}:src/mechanisms/losses.py"], cwd=ROOT, capture_output=True, text=True
    )
    assert source.returncode == 0, source.stderr
    spec = importlib.util.spec_from_loader("losses_before_queue", loader=None)
    before = importlib.util.module_from_spec(spec)
    # The value checks it imports have moved since (src/config/ → src/core/); nothing else differs.
    exec(source.stdout.replace("src.config.", "src.core."), before.__dict__)
    g = torch.Generator().manual_seed(3)
    inputs = [torch.randn(8, 5, generator=g, requires_grad=True) for _ in range(4)]
    for beta in (0.0, 0.5, 1.0):
        new = Objective(negatives_weight=beta, negatives="batch")(*inputs)
        old = before.Objective(negatives_weight=beta)(*inputs)
        assert new.keys() == old.keys()
        for key in new:
            assert torch.equal(new[key], old[key]), (beta, key)
        grads_new = torch.autograd.grad(new["loss"], inputs)
        grads_old = torch.autograd.grad(old["loss"], inputs)
        assert all(torch.equal(a, b) for a, b in zip(grads_new, grads_old, strict=True))


def test_the_module_enqueues_after_the_step_so_a_batch_never_meets_its_own_keys(tiny_config):
    module, dm = built(tiny_config, "+ablation=moco", "model.loss.queue_size=256")
    dm.setup("fit")
    queue = module.negatives_queue
    x1, x2, _ = dm.train_batch(0)
    v1, v2 = module.forward_view(x1), module.forward_view(x2)
    module.objective(v1["p"], v2["p"], v1["t"], v2["t"], queue)
    assert held(queue) == set()  # during the step the queue holds only earlier steps' keys
    module._pending_keys.append(torch.cat([v1["t"], v2["t"]]).detach())
    for keys in module._pending_keys:  # what optimizer_step does after the optimizer's step
        queue.push(keys)
    expected = torch.cat([v1["t"], v2["t"]]).detach()
    assert held(queue) == {tuple(k.tolist()) for k in expected}
    assert {"negatives_queue.keys", "negatives_queue.pointer", "negatives_queue.filled"} <= set(
        module.state_dict()
    )


@pytest.mark.slow
def test_a_run_with_a_queue_resumes_bit_identically(tmp_path_factory):
    # A queue of 256 keys wraps around every 2 steps of 64 × 2 views: the checkpoint must carry it.
    moco = ["+ablation=moco", "model.loss.queue_size=256"]
    uninterrupted = tmp_path_factory.mktemp("uninterrupted")
    code, _, err = run_cli([*LONG, *moco, f"hydra.run.dir={uninterrupted}"])
    assert code == 0, err
    killed = tmp_path_factory.mktemp("killed")
    code, _ = kill_mid_run(killed, signal.SIGKILL, extra=moco)
    assert code == -signal.SIGKILL, "the run finished before the kill"
    assert_resumes_to_the_uninterrupted_result(killed, (1, uninterrupted), moco)
