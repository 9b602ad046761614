"""Published numbers live in one file: every key a row header or a claim cites exists, headers quote no
numbers of their own, and the file holds exactly the numbers of the papers (typed here independently,
from BYOL Table 5 and §3.2, SimSiam Table 1 / Fig. 2, MoCo §4.1 and DirectPred's abstract)."""

import re

import pytest

from src.analysis.judge.references import REFERENCES, quote
from tests.conftest import CONF, ROWS

CITED = re.compile(r"\[([a-z0-9][a-z0-9.\-]*)\]")

PUBLISHED = {  # predictor / target network / β → top-1, BYOL Table 5(b)
    "byol-t5b-pred-target-b0": 72.5, "byol-t5b-pred-target-b1": 70.9, "byol-t5b-nopred-target-b1": 70.7,
    "byol-t5b-nopred-notarget-b1": 69.4, "byol-t5b-pred-notarget-b1": 69.1, "byol-t5b-pred-notarget-b0": 0.3,
    "byol-t5b-nopred-target-b0": 0.2, "byol-t5b-nopred-notarget-b0": 0.1,
    # Table 5(a), τ_base
    "byol-t5a-tau-1": 18.8, "byol-t5a-tau-0.999": 69.8, "byol-t5a-tau-0.99": 72.5, "byol-t5a-tau-0.9": 68.4,
    "byol-t5a-tau-0": 0.3,
    "byol-s32-random-target": 18.8, "byol-s32-random-init": 1.4,
    "simsiam-t1-no-predictor": 0.1, "simsiam-t1-random-predictor": 1.5, "simsiam-t1-lr-decay": 67.7,
    "simsiam-t1-lr-fixed": 68.1, "simsiam-f2-no-stopgrad": 0.1,
    # MoCo §4.1 momentum ablation (m = 0: "fails"); DirectPred abstract (points over a linear predictor)
    "moco-s41-m0": None, "moco-s41-m0.9": 55.2, "moco-s41-m0.99": 57.8, "moco-s41-m0.999": 59.0,
    "directpred-300ep": 2.5, "directpred-60ep": 5.0,
}  # fmt: skip


def header(row: str) -> str:
    lines = (CONF / "ablation" / f"{row}.yaml").read_text().splitlines()
    return "\n".join(line for line in lines if line.startswith("#"))


def test_the_file_holds_exactly_the_published_numbers():
    assert {k: r.value for k, r in REFERENCES.items()} == PUBLISHED
    assert REFERENCES["byol-t5a-tau-1"].spread == 0.7
    assert quote("byol-t5b-pred-target-b1").startswith(
        "BYOL Table 5(b), predictor ✓, target network ✓, β = 1: 70.9"
    )


@pytest.mark.parametrize("row", ROWS)
def test_every_key_a_row_header_cites_exists_and_headers_type_no_numbers(row):
    text = header(row)
    assert set(CITED.findall(text)) <= set(REFERENCES), set(CITED.findall(text)) - set(REFERENCES)
    assert "%" not in text, "quote published numbers by key, not by hand"


def test_rows_with_published_numbers_cite_them():
    cited = {row: set(CITED.findall(header(row))) for row in ROWS}
    assert cited["byol_negatives"] >= {"byol-t5b-pred-target-b1"}  # once misquoted as 69.1
    assert cited["no_predictor_negatives"] >= {"byol-t5b-nopred-target-b1"}  # once misquoted as 62.8
    assert cited["no_predictor"] >= {"byol-t5b-nopred-target-b0", "simsiam-t1-no-predictor"}
    assert cited["frozen_predictor"] >= {"simsiam-t1-random-predictor"}
    assert cited["moco_m0"] >= {"moco-s41-m0"} and cited["directpred"] >= {"directpred-300ep"}
    assert sum(bool(keys) for keys in cited.values()) >= 12


def test_an_unknown_key_is_named():
    with pytest.raises(KeyError, match="no-such-key"):
        quote("no-such-key")


def test_claim_keys_are_unique():  # (that every key a claim cites exists: tests/test_analysis_claims.py)
    from src.analysis.judge.claim_catalogue import CLAIMS

    assert len({claim.key for claim in CLAIMS}) == len(CLAIMS), "duplicate claim keys"
