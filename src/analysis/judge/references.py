"""Every published number the suite quotes, in one place: paper, table or figure, setting, value, unit.

Row headers (``# Reference: [key] …`` in conf/ablation/*.yaml), claims (``Claim.references``) and the
claims report cite these keys and print the value from here, never typed again; a test checks that
every cited key exists and that the headers quote no percentages of their own.

BYOL: Grill et al. 2020, "Bootstrap your own latent", ImageNet linear evaluation, top-1 %, 300 epochs
(Table 5: ablations). SimSiam: Chen & He 2021, "Exploring simple Siamese representation learning",
ImageNet linear evaluation, top-1 %, 100 epochs. MoCo: He et al. 2020, "Momentum contrast for unsupervised
visual representation learning". DirectPred: Tian, Chen & Ganguli 2021, "Understanding self-supervised
learning dynamics without contrastive pairs".

NOTE: not here, because they could not be checked against the papers on this machine: BYOL's appendix
table of the predictor's learning-rate multiplier λ at τ = 0, BYOL's wording on removing weight decay,
and DirectCopy's (Wang et al. 2021) numbers. Rows and claims that concern them cite the paper in words.
"""

from dataclasses import dataclass

TOP1 = "% top-1 (ImageNet linear evaluation)"
POINTS = "points of top-1 (ImageNet linear evaluation)"


@dataclass(frozen=True)
class Reference:
    key: str
    paper: str
    where: str  # table, figure or section
    setting: str
    value: float | None  # None: the paper reports an outcome, not a number (``unit`` then says which)
    unit: str = TOP1
    spread: float | None = None  # the ± the paper reports, if any

    def quote(self) -> str:
        """e.g. "BYOL Table 5(b), predictor ✓, target network ✓, β = 0: 72.5 % top-1 (…) [key]"."""
        if self.value is None:
            return f"{self.paper} {self.where}, {self.setting}: {self.unit} [{self.key}]"
        spread = f" ± {self.spread:g}" if self.spread is not None else ""
        return f"{self.paper} {self.where}, {self.setting}: {self.value:g}{spread} {self.unit} [{self.key}]"


def _t5b(predictor: bool, target: bool, beta: int, value: float, note: str = "") -> Reference:
    key = f"byol-t5b-{'pred' if predictor else 'nopred'}-{'target' if target else 'notarget'}-b{beta}"
    tick = {True: "✓", False: "✗"}
    setting = f"predictor {tick[predictor]}, target network {tick[target]}, β = {beta}{note}"
    return Reference(key, "BYOL", "Table 5(b)", setting, value)


def _t5a(tau: str, value: float, spread: float | None = None) -> Reference:
    return Reference(f"byol-t5a-tau-{tau}", "BYOL", "Table 5(a)", f"τ_base = {tau}", value, spread=spread)


REFERENCES_LIST = (
    # BYOL Table 5(b): predictor / target network / β (the weight of the negatives, Eq. 6) → top-1.
    _t5b(True, True, 0, 72.5, " (BYOL)"),
    _t5b(True, True, 1, 70.9),
    _t5b(False, True, 1, 70.7),
    _t5b(False, False, 1, 69.4, " (SimCLR)"),
    _t5b(True, False, 1, 69.1),
    _t5b(True, False, 0, 0.3),
    _t5b(False, True, 0, 0.2),
    _t5b(False, False, 0, 0.1),
    # BYOL Table 5(a): the target's decay rate τ_base (τ then follows BYOL's cosine schedule to 1).
    _t5a("1", 18.8, 0.7),
    _t5a("0.999", 69.8),
    _t5a("0.99", 72.5),
    _t5a("0.9", 68.4),
    _t5a("0", 0.3),
    # BYOL §3.2: predicting a fixed randomly initialised network, against that network itself.
    Reference("byol-s32-random-target", "BYOL", "§3.2", "online network trained to predict a fixed random target", 18.8),
    Reference("byol-s32-random-init", "BYOL", "§3.2", "the randomly initialised network itself", 1.4),
    # SimSiam Table 1 (the predictor) and Fig. 2 (stop-gradient).
    Reference("simsiam-t1-no-predictor", "SimSiam", "Table 1", "no predictor", 0.1),
    Reference("simsiam-t1-random-predictor", "SimSiam", "Table 1", "fixed random predictor", 1.5),
    Reference("simsiam-t1-lr-decay", "SimSiam", "Table 1", "predictor lr with cosine decay (baseline)", 67.7),
    Reference("simsiam-t1-lr-fixed", "SimSiam", "Table 1", "predictor lr fixed (no decay)", 68.1),
    Reference("simsiam-f2-no-stopgrad", "SimSiam", "Fig. 2", "no stop-gradient", 0.1),
    # MoCo (He et al. 2020) §4.1, "Ablation: momentum": ResNet-50, queue K = 4096, ImageNet linear top-1.
    Reference("moco-s41-m0", "MoCo", "§4.1 (momentum ablation)", "m = 0", None, "training fails to converge"),
    Reference("moco-s41-m0.9", "MoCo", "§4.1 (momentum ablation)", "m = 0.9", 55.2),
    Reference("moco-s41-m0.99", "MoCo", "§4.1 (momentum ablation)", "m = 0.99", 57.8),
    Reference("moco-s41-m0.999", "MoCo", "§4.1 (momentum ablation)", "m = 0.999", 59.0),
    # DirectPred (Tian, Chen & Ganguli 2021), abstract: a predictor set from F = E[zzᵀ] against a trained
    # linear predictor, ImageNet linear evaluation.
    Reference("directpred-300ep", "DirectPred", "abstract", "300 epochs, over a trained linear predictor", 2.5, POINTS),
    Reference("directpred-60ep", "DirectPred", "abstract", "60 epochs, over a trained linear predictor", 5.0, POINTS),
)  # fmt: skip

REFERENCES = {r.key: r for r in REFERENCES_LIST}
assert len(REFERENCES) == len(REFERENCES_LIST), "duplicate reference keys"


def quote(key: str) -> str:
    """The published number of ``key`` in words; a KeyError names an unknown key."""
    if key not in REFERENCES:
        raise KeyError(f"no published number {key!r} in src/analysis/judge/references.py")
    return REFERENCES[key].quote()
