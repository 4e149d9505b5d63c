"""The numeric quiz cards of the chapters "Classification losses" and "Class imbalance": every
generator checked against the course's PyTorch code (or scikit-learn for the metrics) on many
draws, so a card's answer and the chapter's code cannot drift apart."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import precision_score, recall_score

from lossprep.losses import hinge_loss, sigmoid_focal_loss
from lossprep.quiz.cards import load_file
from lossprep.quiz.numeric import GENERATORS, SMALLEST, draw

ROOT = Path(__file__).resolve().parents[1]

PREFIXES = ("cls_", "imb_")
OURS = sorted(n for n in GENERATORS if n.startswith(PREFIXES))


def t(v: float) -> torch.Tensor:
    return torch.tensor([float(v)], dtype=torch.float64)


def logit(prob: float) -> float:
    return math.log(prob) - math.log1p(-prob)


def _logits_with_losses(losses: list[float], targets: list[int]) -> torch.Tensor:
    """Two-class logits whose cross-entropy at ``targets`` is exactly ``losses``: the true class
    at 0 and the other at log(e^l - 1), so that log(1 + e^{z_other}) = l."""
    rows = []
    for loss, target in zip(losses, targets, strict=True):
        other = math.log(math.expm1(loss))
        rows.append([0.0, other] if target == 0 else [other, 0.0])
    return torch.tensor(rows, dtype=torch.float64)


def torch_answer(name: str, p: dict) -> float:
    if name == "cls_softmax_prob":
        z = torch.tensor([p["z0"], p["z1"], p["z2"]], dtype=torch.float64)
        return torch.softmax(z, dim=0)[p["k"]].item()
    if name == "cls_ce_weighted_mean":
        losses = [p["l0"], p["l1"], p["l2"]]
        targets = [p["t0"], p["t1"], p["t2"]]
        weight = torch.tensor([p["w0"], p["w1"]], dtype=torch.float64)
        logits = _logits_with_losses(losses, targets)
        return F.cross_entropy(logits, torch.tensor(targets), weight=weight).item()
    if name == "cls_logsumexp":
        return torch.logsumexp(torch.tensor([p["z0"], p["z1"], p["z2"]], dtype=torch.float64), dim=0).item()
    if name == "cls_temperature":
        z = torch.tensor([p["z0"], p["z1"], p["z2"]], dtype=torch.float64)
        return torch.softmax(z / p["T"], dim=0).max().item()
    if name == "cls_hinge":
        return hinge_loss(t(p["z"]), t(p["y"])).item()
    if name == "cls_mse_sigmoid_grad":
        z = t(p["z"]).requires_grad_()
        (0.5 * (torch.sigmoid(z) - p["y"]) ** 2).sum().backward()
        return z.grad.item()
    if name == "cls_brier":
        return F.mse_loss(t(p["p"]), t(p["y"])).item()
    if name == "cls_smoothed_target":
        # with all logits 0 the gradient of the smoothed loss is softmax - target = 1/C - target
        z = torch.zeros(1, p["C"], dtype=torch.float64, requires_grad=True)
        F.cross_entropy(z, torch.tensor([0]), label_smoothing=p["eps"]).backward()
        return 1.0 / p["C"] - z.grad[0, 0].item()
    if name == "imb_inverse_frequency":
        y = torch.zeros(p["n"])
        y[: p["pos"]] = 1
        return ((y == 0).sum() / (y == 1).sum()).item()
    if name == "imb_logit_shift":
        return torch.sigmoid(t(logit(p["p"])) - math.log(p["w"])).item()
    if name == "imb_undersample_correction":
        return torch.sigmoid(t(logit(p["p"])) + math.log(p["keep"])).item()
    if name == "imb_focal_factor":
        z = t(logit(p["pt"]))
        ce = F.binary_cross_entropy_with_logits(z, t(1))
        return (ce / sigmoid_focal_loss(z, t(1), gamma=p["gamma"])).item()
    if name == "imb_focal_loss":
        return sigmoid_focal_loss(t(logit(p["pt"])), t(1), gamma=p["gamma"]).item()
    if name == "imb_weighted_grad":
        z = t(p["z"]).requires_grad_()
        F.binary_cross_entropy_with_logits(z, t(1), pos_weight=t(p["w"])).backward()
        return z.grad.item()
    if name in ("imb_precision", "imb_recall"):
        tp, fp, fn = p["tp"], p["fp"], p["fn"]
        truth = np.array([1] * tp + [0] * fp + [1] * fn)
        pred = np.array([1] * tp + [1] * fp + [0] * fn)
        score = precision_score if name == "imb_precision" else recall_score
        return float(score(truth, pred))
    raise AssertionError(f"no reference for generator {name!r}; add one here")


def test_the_chapters_have_their_generators() -> None:
    assert len([n for n in OURS if n.startswith("cls_")]) >= 6
    assert len([n for n in OURS if n.startswith("imb_")]) >= 6


@pytest.mark.parametrize("name", OURS)
def test_generator_matches_the_course_code(name: str) -> None:
    rng = random.Random(1234)
    seen = set()
    for _ in range(40):
        inst = draw(name, rng)
        seen.add(tuple(sorted(inst.params.items())))
        want = torch_answer(name, inst.params)
        assert math.isclose(inst.answer, want, rel_tol=1e-9, abs_tol=1e-12), (name, inst.params, inst.answer, want)
    assert len(seen) > 1, f"{name} draws the same parameters every time"


@pytest.mark.parametrize("name", OURS)
def test_answers_are_large_enough_to_grade(name: str) -> None:
    """The grading rule's absolute tolerance would accept 0 for a tiny answer; a tiny answer is
    only allowed when it is exactly 0 (a hinge beyond the margin)."""
    rng = random.Random(7)
    for _ in range(200):
        answer = draw(name, rng).answer
        assert answer == 0 or abs(answer) >= SMALLEST, (name, answer)


def test_a_wrong_generator_is_caught() -> None:
    """The reference is independent: a generator that forgot the weights' sum would fail."""
    inst = draw("cls_ce_weighted_mean", random.Random(3))
    p = inst.params
    by_count = sum((p["w0"], p["w1"])[p[f"t{i}"]] * p[f"l{i}"] for i in range(3)) / 3  # the common mistake: divide by N
    assert not math.isclose(by_count, torch_answer("cls_ce_weighted_mean", p), rel_tol=1e-6)


def _drawn_params(name: str) -> set[str]:
    return set(draw(name, random.Random(0)).params)


def test_numeric_cards_with_class_indices_say_they_are_zero_based() -> None:
    cards = load_file(ROOT / "book" / "cards" / "classification.yml")
    with_indices = [c for c in cards if c.kind == "numeric" and _drawn_params(c.generator) & {"k", "t0"}]
    assert len(with_indices) >= 2
    for card in with_indices:
        assert "0-based" in card.front or "numbered from 0" in card.front, card.id
