"""Trying another setting beside the main results (the DVC-experiment equivalent of this design)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from workflows import REPO, snakemake

from bps_labeler.errors import InputError
from bps_labeler.workflow.experiments import apply_settings, compare, parse_settings, prepare, run


def test_settings_are_dotted_keys_with_yaml_values():
    cfg = {"train": {"probe_c": 0.1, "epochs": 8}, "selection": [{"n_samples": 50}]}
    changed = apply_settings(cfg, parse_settings(["train.probe_c=1.0", "selection.0.n_samples=20"]))
    assert changed == {"train": {"probe_c": 1.0, "epochs": 8}, "selection": [{"n_samples": 20}]}
    assert cfg["train"]["probe_c"] == 0.1  # the main config is left as it was
    with pytest.raises(InputError, match=r"--set train.probe: train has no 'probe'; it has \['epochs', 'probe_c'\]"):
        apply_settings(cfg, {"train.probe": 1})
    with pytest.raises(InputError, match="expected key=value"):
        parse_settings(["train.probe_c"])


@pytest.mark.workflow
def test_an_experiment_retrains_beside_the_main_run_and_leaves_it_untouched(tiny_run, tmp_path):
    main = tmp_path / "main"
    shutil.copytree(tiny_run, main, symlinks=True)
    snakemake(main, "results/metrics.json")  # the main run's learning curve, which DVC shows
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (main / "results").rglob("*") if p.is_file()}

    folder = prepare(main, "probe-c-1", parse_settings(["train.probe_c=1.0"]), Path("config/config.yaml"))
    run(REPO / "workflow" / "Snakefile", folder, cores="2")

    # the main run: every file as it was, bytes and modification times
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (main / "results").rglob("*") if p.is_file()}
    assert after == before
    # the experiment: the embeddings reused (still the main run's file), the models retrained
    emb = "results/embeddings/embeddings.csv"
    assert (folder / emb).stat().st_ino == (main / emb).stat().st_ino
    for r in (1, 2):
        model = f"results/round_{r}/model.ckpt"
        assert (folder / model).stat().st_ino != (main / model).stat().st_ino, model
    table = compare(main / "results/metrics.json", folder / "results/metrics.json")
    assert table.splitlines()[2].startswith("| 1 | 20 / 20 |") and table.splitlines()[3].startswith("| 2 | 40 / 40 |")
    assert json.loads((folder / "experiment.json").read_text())["set"] == {"train.probe_c": 1.0}
    with pytest.raises(InputError, match="exists: give the experiment another name"):
        prepare(main, "probe-c-1", {"train.probe_c": 1.0}, Path("config/config.yaml"))
