"""Agreement between labelers, from an export's records (one per annotation)."""

from __future__ import annotations

import pytest
from sklearn.metrics import cohen_kappa_score

from bps_labeler.labeling.agreement import agreement

CATS = ("track", "no track")


def rec(image: str, who: int | None, choice: str | None, **extra) -> dict:
    out = {"image": f"/data/local-files/?d=results/data/images/{image}", "annotator": who, **extra}
    if choice is not None:
        out["choice"] = choice
    return out


def test_two_labelers_kappa_is_cohens_and_disagreements_carry_both_answers():
    a = ["track", "track", "no track", "track", "no track", "no track", "track", "track"]
    b = ["track", "no track", "no track", "track", "no track", "track", "track", "track"]
    images = [f"i{k}.jpg" for k in range(8)]
    records = [rec(i, 1, x) for i, x in zip(images, a)] + [rec(i, 2, y) for i, y in zip(images, b)]
    records.append(rec("alone.jpg", 1, "track"))  # one person only: not shared, not in the kappa
    consensus = dict(zip(images, a))  # ties went to labeler 1, say
    out = agreement(records, consensus, CATS)
    assert out["labelers"] == {"1": 9, "2": 8} and out["n_shared_images"] == 8
    (pair,) = out["pairs"]
    assert pair["cohen_kappa"] == pytest.approx(cohen_kappa_score(a, b), abs=1e-4)
    assert pair["agreement"] == pytest.approx(6 / 8) and pair["n_images"] == 8
    assert out["light_kappa"] is None  # two labelers: Cohen's is the measure
    assert {d["filename"] for d in out["disagreements"]} == {"i1.jpg", "i5.jpg"}
    assert out["disagreements"][0]["answers"] == {"1": "track", "2": "no track"}
    assert out["with_consensus"]["1"]["agreement"] == 1.0 and out["with_consensus"]["2"]["agreement"] == 0.75


def test_three_labelers_get_lights_kappa_the_mean_of_the_pairs():
    answers = {
        1: ["track", "track", "no track", "no track", "track", "no track"],
        2: ["track", "no track", "no track", "no track", "track", "no track"],
        3: ["track", "track", "no track", "track", "track", "track"],
    }
    records = [rec(f"i{k}.jpg", who, x) for who, xs in answers.items() for k, x in enumerate(xs)]
    out = agreement(records, {}, CATS)
    kappas = [p["cohen_kappa"] for p in out["pairs"]]
    assert len(kappas) == 3
    assert out["light_kappa"] == pytest.approx(sum(kappas) / 3, abs=1e-4)
    assert kappas[0] == pytest.approx(cohen_kappa_score(answers[1], answers[2]), abs=1e-4)


def test_skips_unknown_people_and_corrections_are_handled():
    records = [
        rec("a.jpg", 1, "track"),
        rec("a.jpg", 2, None, skipped=True),  # a skip is no answer
        rec("a.jpg", None, "no track"),  # nobody named: cannot be paired
        rec("b.jpg", 1, "no track"),
        rec("b.jpg", 2, "track"),
        rec("b.jpg", 2, "no track"),  # labeler 2 corrected their answer
    ]
    out = agreement(records, {"a.jpg": "track", "b.jpg": "no track"}, CATS)
    assert out["n_shared_images"] == 1 and out["disagreements"] == []
    (pair,) = out["pairs"]
    assert pair["agreement"] == 1.0 and pair["cohen_kappa"] is None  # one image: kappa is undefined


def test_the_report_gallery_shows_each_persons_answer_where_people_differ():
    from bps_labeler.report.figures import disagreement_items

    a = ["track", "track", "no track", "no track"]
    b = ["track", "no track", "no track", "track"]
    images = [f"P242_73668807145-A1_00{k}_001_proj.jpg" for k in range(4)]
    records = [rec(i, 7, x) for i, x in zip(images, a)] + [rec(i, 9, y) for i, y in zip(images, b)]
    report = {"agreement": agreement(records, dict(zip(images, a)), CATS)}
    items, kappas = disagreement_items([("validation", report), ("round_1", {})])
    assert [i["filename"] for i in items] == [images[1], images[3]]
    assert items[0]["caption"] == ["A1_001_001", "validation", "7: track", "9: no track", "kept: track"]
    assert kappas == [f"validation: 7 and 9 kappa {cohen_kappa_score(a, b):.2f} on 4"]
