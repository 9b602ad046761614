"""The claims the suite exists to test (docs/design.md §9): the seed's six and the papers' rows, as data.

Rows are the names of ``conf/ablation/*.yaml`` (the ``collapse_table`` study) and ``ema_tau_<τ>`` (the
``tau_sweep`` study, where τ is held constant). A study evaluates the claims whose rows it ran and lists
the others as not tested. Thresholds: accuracy differences are judged against two points (0.02), or
against −0.05 / −0.02 where the claim is "no worse than"; see ``src.analysis.judge.claims`` for the tests.
Published numbers are cited by key (``references``) and printed from ``src.analysis.judge.references``;
sources never type a number again.
"""

from src.analysis.judge.claims import REFERENCE, AvoidsCollapse, Claim, Collapses, Exceeds
from src.analysis.judge.predictor_claims import PREDICTOR_CLAIMS

SEED_CLAIMS = (
    Claim(
        "seed-1",
        "Two networks trained only to agree (no stop-gradient, no target network) collapse.",
        "seed claim 1; Becker & Hinton 1992; SimSiam (Chen & He 2021) Fig. 2: without stop-gradient the "
        "output std goes to 0",
        (Collapses("no_stopgrad"),),
        ("simsiam-f2-no-stopgrad",),
    ),
    Claim(
        "seed-2",
        "Regressing onto an ensemble of frozen random networks (no predictor) avoids collapse.",
        "seed claim 2; Becker & Hinton 1992",
        (AvoidsCollapse("ensemble_target"),),
    ),
    Claim(
        "seed-2-ema",
        "An ensemble of EMA copies at different rates avoids collapse without a predictor "
        "(an open question: no_predictor, a single EMA copy, collapses).",
        "seed claim 2 with moving members; conf/ablation/ensemble_target_ema.yaml",
        (AvoidsCollapse("ensemble_target_ema"),),
    ),
    Claim(
        "seed-3",
        "Predicting a frozen random target beats the random network itself: the linear probe rises above "
        "the run's own random-init reference by more than two points.",
        "seed claim 3; BYOL (Grill et al. 2020) §3.2",
        (Exceeds("random_target", REFERENCE, 0.02),),
        ("byol-s32-random-target", "byol-s32-random-init"),
    ),
    Claim(
        "seed-4",
        "The predictor helps only on the online side: on the target side it stays random and the run "
        "collapses as without a predictor, while on the online side it does not.",
        "seed claim 4",
        (Collapses("predictor_on_target"), AvoidsCollapse("byol")),
    ),
    Claim(
        "seed-5",
        "The predictor plays the ensemble's role, so a weighted sum suffices: a linear predictor avoids "
        "collapse and its probe is no more than five points below the MLP predictor's.",
        "seed claim 5",
        (AvoidsCollapse("linear_predictor"), Exceeds("linear_predictor", "byol", -0.05)),
    ),
    Claim(
        "seed-6",
        "Negatives avoid collapse without a predictor or a moving average (SimCLR).",
        "seed claim 6; SimCLR (Chen et al. 2020); BYOL Eq. 6 with β = 1",
        (AvoidsCollapse("simclr"),),
        ("byol-t5b-nopred-notarget-b1",),
    ),
)

PAPER_CLAIMS = (
    Claim(
        "byol-5b-baseline",
        "BYOL (MLP predictor, EMA target, β = 0) avoids collapse and learns: its probe rises above the "
        "random-init reference by more than two points.",
        "BYOL Table 5(b), first row",
        (AvoidsCollapse("byol"), Exceeds("byol", REFERENCE, 0.02)),
        ("byol-t5b-pred-target-b0",),
    ),
    Claim(
        "byol-5b-no-predictor",
        "Without a predictor, an EMA target and no negatives collapse.",
        "BYOL Table 5(b); SimSiam Table 1",
        (Collapses("no_predictor"),),
        ("byol-t5b-nopred-target-b0", "simsiam-t1-no-predictor"),
    ),
    Claim(
        "byol-5b-negatives-rescue",
        "Negatives (β = 1) rescue the no-predictor configuration: no collapse, and a probe more than two "
        "points above no_predictor's.",
        "BYOL Table 5(b)",
        (AvoidsCollapse("no_predictor_negatives"), Exceeds("no_predictor_negatives", "no_predictor", 0.02)),
        ("byol-t5b-nopred-target-b1", "byol-t5b-nopred-target-b0"),
    ),
    Claim(
        "byol-5b-negatives-unneeded",
        "BYOL does not need negatives: adding them (β = 1) improves its probe by no more than two points.",
        "BYOL Table 5(b)",
        (AvoidsCollapse("byol_negatives"), Exceeds("byol", "byol_negatives", -0.02)),
        ("byol-t5b-pred-target-b1", "byol-t5b-pred-target-b0"),
    ),
    Claim(
        "byol-5a-intermediate-tau",
        "A wide range of constant EMA rates avoids collapse (τ = 0.9 and τ = 0.999).",
        "BYOL Table 5(a)",
        (AvoidsCollapse("ema_tau_0.9"), AvoidsCollapse("ema_tau_0.999")),
        ("byol-t5a-tau-0.9", "byol-t5a-tau-0.999"),
    ),
    Claim(
        "byol-5a-tau-zero",
        "An instantaneous target (τ = 0: a stop-gradient copy of the online network) does worse than the "
        "moving average: the baseline's probe is more than two points higher.",
        "BYOL Table 5(a); SimSiam §4 finds stop-gradient with a predictor enough",
        (Exceeds("byol", "no_ema", 0.02),),
        ("byol-t5a-tau-0.99", "byol-t5a-tau-0", "byol-t5b-pred-notarget-b0"),
    ),
    Claim(
        "simsiam-no-moving-average",
        "Stop-gradient and a predictor suffice: no target network, no collapse.",
        "SimSiam (Chen & He 2021) Table 1; BYOL Table 5(b) finds the same parts fail",
        (AvoidsCollapse("simsiam"),),
        ("simsiam-t1-lr-decay", "byol-t5b-pred-notarget-b0"),
    ),
    Claim(
        "simsiam-fixed-predictor-lr",
        "A predictor whose learning rate is never decayed does at least as well: no collapse, and a probe "
        "no more than two points below the baseline's.",
        "SimSiam §4.4 / Table 1",
        (AvoidsCollapse("fixed_predictor_lr"), Exceeds("fixed_predictor_lr", "byol", -0.02)),
        ("simsiam-t1-lr-fixed", "simsiam-t1-lr-decay"),
    ),
    Claim(
        "no-batch-statistics",
        "BYOL avoids collapse without BatchNorm in its projector and predictor.",
        "Richemond et al. 2020, BYOL works even without batch statistics, Table 1",
        (AvoidsCollapse("no_bn_heads"),),
    ),
)

TAU_SWEEP_CLAIMS = (
    Claim(
        "tau-sweep-intermediate",
        "Intermediate constant EMA rates (τ = 0.9, 0.99, 0.999) avoid collapse.",
        "BYOL Table 5(a)",
        (AvoidsCollapse("ema_tau_0.9"), AvoidsCollapse("ema_tau_0.99"), AvoidsCollapse("ema_tau_0.999")),
        ("byol-t5a-tau-0.9", "byol-t5a-tau-0.99", "byol-t5a-tau-0.999"),
    ),
    Claim(
        "tau-sweep-zero",
        "τ = 0 (the target is the online network, stop-gradient only) does worse than τ = 0.99: the probe "
        "at τ = 0.99 is more than two points higher.",
        "BYOL Table 5(a)",
        (Exceeds("ema_tau_0.99", "ema_tau_0.0", 0.02),),
        ("byol-t5a-tau-0.99", "byol-t5a-tau-0"),
    ),
    Claim(
        "tau-sweep-one",
        "τ = 1 (a target that never moves from its initial copy) does worse than τ = 0.99: the probe at "
        "τ = 0.99 is more than two points higher.",
        "BYOL Table 5(a) (τ_base = 1: the target stays at its initialisation)",
        (Exceeds("ema_tau_0.99", "ema_tau_1.0", 0.02),),
        ("byol-t5a-tau-0.99", "byol-t5a-tau-1"),
    ),
)

CLAIMS = (*SEED_CLAIMS, *PAPER_CLAIMS, *PREDICTOR_CLAIMS, *TAU_SWEEP_CLAIMS)
