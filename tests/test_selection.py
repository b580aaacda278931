import json

import numpy as np
import pandas as pd
import pytest

from bps_labeler.errors import InputError
from bps_labeler.selection.config import validate_config
from bps_labeler.selection.engine import select
from bps_labeler.selection.pool import Pool
from bps_labeler.selection.records import selection_record

DIVERSITY = {"input": {"type": "EMBEDDINGS"}, "strategy": {"type": "DIVERSITY"}}
ENTROPY = {
    "input": {"type": "SCORES", "task": "bps-classification", "score": "uncertainty_entropy"},
    "strategy": {"type": "WEIGHTS"},
}


def make_pool(n=200, with_predictions=False, seed=0):
    rng = np.random.default_rng(seed)
    names = [f"img_{i:04d}.jpg" for i in range(n)]
    emb = rng.normal(size=(n, 8)).astype(np.float32)
    meta = pd.DataFrame(
        {
            "filename": names,
            "particle_type": ["Fe" if i % 4 == 0 else "X-ray" for i in range(n)],  # 25 % Fe
            "dose_Gy": np.where(np.arange(n) % 4 == 0, 0.82, 1.0),
            "hr_post_exposure": 4,
        }
    ).set_index("filename")
    probs = None
    if with_predictions:
        p = np.linspace(0.0, 1.0, n)  # image i is "track" with probability i/(n-1)
        probs = np.stack([p, 1 - p], axis=1)
    return Pool(names, emb, meta, probs, categories=("track", "no track"))


BALANCE_HALF = {
    "input": {"type": "METADATA", "key": "particle_type"},
    "strategy": {"type": "BALANCE", "target": {"Fe": 0.5, "X-ray": 0.5}},
}


@pytest.mark.parametrize("strategies, tolerance", [([BALANCE_HALF], 1), ([DIVERSITY, BALANCE_HALF], 2)])
def test_balance_reaches_its_target(strategies, tolerance):
    pool = make_pool()
    chosen = select({"n_samples": 40, "strategies": strategies}, pool, [])
    n_fe = sum(pool.metadata.loc[c, "particle_type"] == "Fe" for c in chosen)
    assert len(chosen) == len(set(chosen)) == 40
    # the pool is 25 % Fe (random choice would give ~10); balance pulls it to half
    assert abs(n_fe - 20) <= tolerance


def test_weights_on_entropy_pick_the_most_uncertain():
    pool = make_pool(with_predictions=True)
    chosen = select({"n_samples": 10, "strategies": [ENTROPY]}, pool, [])
    # entropy peaks where p = 0.5, i.e. the middle of the pool
    idx = sorted(int(c[4:8]) for c in chosen)
    assert all(abs(i - 99.5) <= 6 for i in idx), idx


def test_never_picks_an_earlier_rounds_image():
    pool = make_pool(with_predictions=True)
    first = select({"n_samples": 10, "strategies": [ENTROPY]}, pool, [])
    second = select({"n_samples": 10, "strategies": [ENTROPY]}, pool, first)
    assert not set(first) & set(second)
    assert len(second) == 10


def test_diversity_spreads_over_clusters():
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(5, 8)) * 10
    emb = np.concatenate([c + rng.normal(size=(40, 8)) * 0.1 for c in centers]).astype(np.float32)
    pool = make_pool(200)
    pool.embeddings = emb
    chosen = select({"n_samples": 5, "strategies": [DIVERSITY]}, pool, [])
    assert sorted(int(c[4:8]) // 40 for c in chosen) == [0, 1, 2, 3, 4]


def test_threshold_never_lets_a_filtered_image_through():
    pool = make_pool(with_predictions=True)
    cfg = {
        "n_samples": 20,
        "strategies": [
            DIVERSITY,
            {
                "input": {"type": "METADATA", "key": "dose_Gy"},
                "strategy": {"type": "THRESHOLD", "threshold": 0.9, "operation": "SMALLER"},
            },
        ],
    }
    chosen = select(cfg, pool, [])
    assert all(pool.metadata.loc[c, "dose_Gy"] < 0.9 for c in chosen)


def test_a_threshold_that_drops_most_of_the_pool_is_reported(caplog):
    pool = make_pool()  # 25 % at 0.82 Gy, 75 % at 1.0 Gy
    keep_low = {
        "input": {"type": "METADATA", "key": "dose_Gy"},
        "strategy": {"type": "THRESHOLD", "threshold": 0.9, "operation": "SMALLER"},
    }
    keep_high = {**keep_low, "strategy": {**keep_low["strategy"], "operation": "BIGGER"}}
    with caplog.at_level("INFO", logger="bps_labeler.selection"):
        select({"n_samples": 5, "strategies": [DIVERSITY, keep_high]}, pool, [], where="round 1")
        select({"n_samples": 5, "strategies": [DIVERSITY, keep_low]}, pool, [], where="round 2")
    high, low = caplog.records
    assert high.levelname == "INFO" and "dose_Gy BIGGER 0.9 leaves out 50 of 200" in high.getMessage()
    assert low.levelname == "WARNING" and "round 2.strategies[1]" in low.getMessage()
    assert "leaves out 150 of 200 images (75 %)" in low.getMessage()


def test_same_input_same_output():
    pool = make_pool()
    cfg = {"n_samples": 15, "strategies": [DIVERSITY]}
    assert select(cfg, pool, []) == select(cfg, make_pool(), [])


def test_asking_for_more_than_remains_says_so():
    pool = make_pool(20, with_predictions=True)
    first = select({"n_samples": 15, "strategies": [ENTROPY]}, pool, [])
    with pytest.raises(InputError, match="asks for 10 samples but only 5 remain in the pool of 20"):
        select({"n_samples": 10, "strategies": [ENTROPY]}, pool, first)


def test_scores_in_round_one_explain_what_to_use():
    with pytest.raises(InputError, match="round 1 has none"):
        select({"n_samples": 5, "strategies": [ENTROPY]}, make_pool(), [])


def test_unknown_metadata_key_lists_the_known_ones():
    cfg = {
        "n_samples": 5,
        "strategies": [{"input": {"type": "METADATA", "key": "cell_cycle"}, "strategy": {"type": "WEIGHTS"}}],
    }
    with pytest.raises(InputError, match="unknown metadata key 'cell_cycle'; known: particle_type, dose_Gy"):
        select(cfg, make_pool(), [])


@pytest.mark.parametrize(
    "cfg, message",
    [
        (
            {"n_samples": 5, "strategies": [DIVERSITY], "samples": 3},
            r"selection: Additional properties are not allowed \('samples' was unexpected\); "
            r"allowed keys: n_samples, proportion_samples, strategies",
        ),
        (
            {
                "n_samples": 5,
                "strategies": [{"input": {"type": "EMBEDDINGS"}, "strategy": {"type": "DIVERSITY", "strenght": 2}}],
            },
            r"selection.strategies\[0\].strategy: Additional properties are not allowed "
            r"\('strenght' was unexpected\); allowed keys: type, strength",
        ),
        (
            {"n_samples": 5, "strategies": [{"input": {"type": "EMBEDDINGS"}, "strategy": {"type": "WEIGHTS"}}]},
            "input EMBEDDINGS cannot drive strategy WEIGHTS; with EMBEDDINGS use DIVERSITY, TYPICALITY",
        ),
        (
            {
                "n_samples": 5,
                "strategies": [
                    {
                        "input": {"type": "SCORES", "task": "bps-classification", "score": "uncertainty_magic"},
                        "strategy": {"type": "WEIGHTS"},
                    }
                ],
            },
            "unknown score 'uncertainty_magic'; allowed: uncertainty_least_confidence, uncertainty_margin, "
            "uncertainty_entropy",
        ),
        (
            {
                "n_samples": 5,
                "strategies": [
                    {
                        "input": {"type": "METADATA", "key": "particle_type"},
                        "strategy": {"type": "BALANCE", "target": {"Fe": 0.7, "X-ray": 0.5}},
                    }
                ],
            },
            "fractions sum to 1.2 > 1",
        ),
        ({"strategies": [DIVERSITY]}, "selection"),
    ],
)
def test_bad_configs_name_the_key(cfg, message):
    with pytest.raises(InputError, match=message):
        validate_config(cfg)


def test_record_is_the_contract():
    pool = make_pool(with_predictions=True)
    cfg = {"n_samples": 3, "strategies": [ENTROPY]}
    chosen = select(cfg, pool, [])
    rec = selection_record(2, cfg, pool, [], chosen)
    assert [s["filename"] for s in rec["selected"]] == chosen
    assert rec["config"] == cfg and rec["round"] == 2 and rec["pool_size"] == 200
    first = rec["selected"][0]
    assert set(first["scores"]) == {"uncertainty_least_confidence", "uncertainty_margin", "uncertainty_entropy"}
    assert first["metadata"]["particle_type"] in ("Fe", "X-ray")
    json.dumps(rec)  # plain JSON types only


def clustered_pool():
    """A dense cluster of 150 (0-149), a loose one of 40 (150-189) and 10 far outliers (190-199)."""
    rng = np.random.default_rng(2)
    emb = np.concatenate(
        [
            rng.normal(0, 0.05, (150, 8)),
            rng.normal(3, 0.6, (40, 8)),
            rng.normal(0, 1, (10, 8)) * 20,
        ]
    ).astype(np.float32)
    pool = make_pool(200)
    pool.embeddings = emb
    return pool


def test_typicality_prefers_the_dense_cluster_and_diversity_the_outliers():
    pool = clustered_pool()
    typical = select(
        {"n_samples": 5, "strategies": [{"input": {"type": "EMBEDDINGS"}, "strategy": {"type": "TYPICALITY"}}]},
        pool,
        [],
    )
    assert all(int(c[4:8]) < 150 for c in typical)
    diverse = select({"n_samples": 5, "strategies": [DIVERSITY]}, pool, [])
    assert sum(int(c[4:8]) >= 190 for c in diverse) >= 3  # pure diversity runs to the outliers


def test_similarity_picks_the_neighbours_of_the_query():
    pool = clustered_pool()
    chosen = select(
        {
            "n_samples": 5,
            "strategies": [
                {
                    "input": {"type": "EMBEDDINGS"},
                    "strategy": {"type": "SIMILARITY", "query_filenames": ["img_0160.jpg"]},
                }
            ],
        },
        pool,
        [],
    )
    assert all(150 <= int(c[4:8]) < 190 for c in chosen)


def test_balance_on_predicted_classes():
    pool = make_pool(with_predictions=True)
    chosen = select(
        {
            "n_samples": 20,
            "strategies": [
                {
                    "input": {"type": "PREDICTIONS", "task": "bps-classification", "name": "CLASS_DISTRIBUTION"},
                    "strategy": {"type": "BALANCE", "target": {"track": 0.8}},
                }
            ],
        },
        pool,
        [],
    )
    # class distributions are the soft predictions: the expected share of "track" hits the
    # target, and "no track", left out of the target, takes the remaining 0.2
    p_track = pool.probabilities[[int(c[4:8]) for c in chosen], 0]
    assert abs(p_track.mean() - 0.8) < 0.03


def test_random_is_seeded_and_proportion_works():
    pool = make_pool()
    cfg = {
        "proportion_samples": 0.1,
        "strategies": [{"input": {"type": "RANDOM", "random_seed": 3}, "strategy": {"type": "WEIGHTS"}}],
    }
    a = select(cfg, pool, [])
    assert len(a) == 20 and a == select(cfg, make_pool(), [])
    cfg["strategies"][0]["input"]["random_seed"] = 4
    assert a != select(cfg, pool, [])
    # a share of what people could label: the images the condition answers do not count
    half_known = make_pool()
    half_known.known = np.arange(200) % 2 == 0
    assert len(select(cfg, half_known, [])) == 10


def test_images_whose_condition_decides_are_never_picked():
    rng = np.random.default_rng(0)
    names = [f"{i}.jpg" for i in range(40)]
    known = np.array([i % 2 == 0 for i in range(40)])  # say, the X-ray half
    pool = Pool(names, rng.normal(size=(40, 8)).astype(np.float32), pd.DataFrame(index=names), known=known)
    cfg = {"n_samples": 10, "strategies": [{"input": {"type": "EMBEDDINGS"}, "strategy": {"type": "DIVERSITY"}}]}
    chosen = select(cfg, pool, [])
    assert len(chosen) == 10 and not any(known[names.index(n)] for n in chosen)
    with pytest.raises(
        InputError,
        match=r"only 20 remain in the pool of 40 after removing 0 picked in earlier "
        r"rounds, 20 whose condition decides the label .* \(or narrow known_answers\)",
    ):
        select({**cfg, "n_samples": 25}, pool, [])


def test_balance_refuses_a_class_that_is_not_in_the_pool():
    """Lightly's docs write {Xray: 0.5}; the data says X-ray: a typo must not drop the class."""
    config = {
        "n_samples": 20,
        "strategies": [
            {
                "input": {"type": "METADATA", "key": "particle_type"},
                "strategy": {"type": "BALANCE", "target": {"Fe": 0.5, "Xray": 0.5}},
            }
        ],
    }
    with pytest.raises(
        InputError, match=r"class\(es\) \['Xray'\] do not occur in the pool; its classes are \['Fe', 'X-ray'\]"
    ):
        select(config, make_pool(), [])


def lightly_similarity(**inp) -> dict:
    return {
        "n_samples": 5,
        "strategies": [{"input": {"type": "EMBEDDINGS", **inp}, "strategy": {"type": "SIMILARITY"}}],
    }


def test_similarity_by_tag_name_queries_an_earlier_rounds_picks():
    pool = clustered_pool()
    tags = {"round_1": ["img_0160.jpg", "img_0161.jpg"]}
    chosen = select(lightly_similarity(tag_name="round_1"), pool, tags["round_1"], tags=tags)
    assert all(150 <= int(c[4:8]) < 190 for c in chosen) and not set(chosen) & set(tags["round_1"])
    with pytest.raises(InputError, match=r"no tag 'round_2' before this round; .*\['round_1'\]"):
        select(lightly_similarity(tag_name="round_2"), pool, [], tags=tags)


@pytest.mark.parametrize(
    "inp, message",
    [
        ({"dataset_id": "6401d4534d2ed9112da782f5", "tag_name": "initial-tag"}, "needs Lightly's cloud"),
        ({"tag_name": "initial-tag"}, r"'initial-tag' is not a tag this pipeline has.*round_1, round_2"),
        ({}, "SIMILARITY needs the images to look like"),
    ],
)
def test_similarity_queries_that_need_lightlys_cloud_say_so(inp, message):
    with pytest.raises(InputError, match=message):
        validate_config(lightly_similarity(**inp), "selection")


def test_a_size_given_twice_or_not_at_all_is_one_line():
    for config in ({"n_samples": 5, "proportion_samples": 0.1}, {}):
        with pytest.raises(InputError, match="either n_samples or proportion_samples") as err:
            validate_config({**config, "strategies": [DIVERSITY]}, "selection")
        assert "is valid under each of" not in str(err.value)


@pytest.mark.parametrize(
    "strategy", [{"type": "THRESHOLD", "threshold": 1, "operation": "BIGGER"}, {"type": "WEIGHTS"}]
)
def test_threshold_or_weights_on_a_text_key_names_the_number_keys(strategy):
    config = {
        "n_samples": 5,
        "strategies": [{"input": {"type": "METADATA", "key": "particle_type"}, "strategy": strategy}],
    }
    with pytest.raises(
        InputError, match=r"'particle_type' holds text \(Fe, X-ray\); \w+ needs a number key: .*dose_Gy"
    ):
        select(config, make_pool(), [])


def test_diversity_that_stops_early_says_so(caplog):
    config = {
        "n_samples": 10,
        "strategies": [
            {
                "input": {"type": "EMBEDDINGS"},
                "strategy": {"type": "DIVERSITY", "stopping_condition_minimum_distance": 100.0},
            }
        ],
    }
    with caplog.at_level("WARNING"):
        chosen = select(config, make_pool(), [])
    assert len(chosen) < 10
    assert f"picked {len(chosen)} of the 10 samples asked for" in caplog.text


def test_balance_on_a_class_whose_images_are_all_known_warns_and_picks_the_rest(caplog):
    """The old tutorial's {Fe: 0.5, X-ray: 0.5} where every X-ray image is a known answer."""
    pool = make_pool()
    pool.known = (pool.metadata.loc[pool.filenames, "particle_type"] == "X-ray").to_numpy()
    config = {"n_samples": 20, "strategies": [DIVERSITY, BALANCE_HALF]}
    with caplog.at_level("WARNING"):
        chosen = select(config, pool, [])
    assert len(chosen) == 20 and set(pool.metadata.loc[chosen, "particle_type"]) == {"Fe"}
    assert "no image of ['X-ray'] is left to pick" in caplog.text
