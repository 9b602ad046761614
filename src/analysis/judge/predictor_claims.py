"""The claims about *why* the predictor works (the predictor issue; docs/design.md §9), as data: the
learned Becker–Hinton ensemble, a frozen online predictor, DirectPred and DirectCopy, the predictor's
eigenspace, MoCo's queue and momentum, the predictor-side BatchNorm, and seed claim 5 judged at a
predictor learning rate ×10. Each names the rows it needs (conf/ablation/); a study that did not run
them lists the claim as not tested. Thresholds as in ``claim_catalogue``: two points of probe accuracy.
"""

from src.analysis.judge.claims import REFERENCE, AvoidsCollapse, Claim, Collapses, Exceeds
from src.metrics.predictor_names import ALIGNMENT  # |cos| of W's top-k eigenvectors with F's

PREDICTOR_CLAIMS = (
    Claim(
        "seed-2-learned",
        "A Becker–Hinton ensemble whose members all learn (each regresses onto the others' combination) "
        "avoids collapse without a predictor.",
        "seed claim 2 with learning members; Becker & Hinton 1992; conf/ablation/learned_ensemble.yaml",
        (AvoidsCollapse("learned_ensemble"),),
    ),
    Claim(
        "seed-2-learned-predictor",
        "The learned ensemble with BYOL's predictor on every member avoids collapse.",
        "seed claim 2; conf/ablation/learned_ensemble_predictor.yaml",
        (AvoidsCollapse("learned_ensemble_predictor"),),
    ),
    Claim(
        "simsiam-frozen-predictor",
        "A random predictor on the online side that is never trained does not prevent collapse: the "
        "predictor must learn, not merely break the symmetry.",
        "SimSiam Table 1 (fixed random predictor)",
        (Collapses("frozen_predictor"),),
        ("simsiam-t1-random-predictor",),
    ),
    Claim(
        "seed-4-bn",
        "On the target side, a frozen predictor without BatchNorm collapses as no predictor does: what "
        "keeps predictor_on_target from collapsing is the batch statistics inside the frozen predictor.",
        "seed claim 4; conf/ablation/predictor_on_target_no_bn.yaml",
        (Collapses("predictor_on_target_no_bn"), AvoidsCollapse("predictor_on_target")),
    ),
    Claim(
        "directpred",
        "A linear predictor set from the correlation of z (DirectPred, DirectCopy) avoids collapse and is "
        "no more than two points below a trained linear predictor.",
        "Tian, Chen & Ganguli 2021 (DirectPred); Wang et al. 2021 (DirectCopy)",
        (
            AvoidsCollapse("directpred"),
            AvoidsCollapse("directcopy"),
            Exceeds("directpred", "linear_predictor", -0.02),
            Exceeds("directcopy", "linear_predictor", -0.02),
        ),
        ("directpred-300ep", "directpred-60ep"),
    ),
    Claim(
        "predictor-eigenspace",
        "Training aligns the linear predictor's eigenvectors with those of F = E[zzᵀ]: the alignment rises "
        "by more than 0.2 above its value at initialisation.",
        "Tian, Chen & Ganguli 2021 §5 (eigenspace alignment of W and F)",
        (Exceeds("linear_predictor", REFERENCE, 0.2, ALIGNMENT), Exceeds("byol", REFERENCE, 0.2, ALIGNMENT)),
    ),
    Claim(
        "moco-queue",
        "Negatives from MoCo's queue avoid collapse without a predictor.",
        "MoCo (He et al. 2020); MoCo v2; seed claim 6",
        (AvoidsCollapse("moco"),),
        ("moco-s41-m0.99",),
    ),
    Claim(
        "moco-momentum-zero",
        "MoCo with momentum m = 0 (the key encoder is the query encoder) does worse than m = 0.99: the "
        "probe at m = 0.99 is more than two points higher.",
        "MoCo §4.1 (m = 0 fails to train)",
        (Exceeds("moco_m0.99", "moco_m0", 0.02),),
        ("moco-s41-m0", "moco-s41-m0.99"),
    ),
    Claim(
        "seed-5-lr10",
        "A linear predictor whose learning rate is ten times the rest avoids collapse and is no more than "
        "five points below the MLP predictor (seed claim 5 at the predictor learning rate BYOL's appendix "
        "finds decisive).",
        "seed claim 5; BYOL appendix (predictor learning-rate multiplier at τ = 0)",
        (AvoidsCollapse("linear_predictor_lr10"), Exceeds("linear_predictor_lr10", "byol", -0.05)),
    ),
    Claim(
        "predictor-lr-tau-zero",
        "At τ = 0, a predictor learning rate ten times the rest avoids collapse.",
        "BYOL appendix (predictor learning-rate multiplier at τ = 0)",
        (AvoidsCollapse("no_ema_lr10"),),
    ),
)
