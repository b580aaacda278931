"""People's labels in the label store survive every rerun: the `file` backend, as root and not.

Label Studio's side of the same promise is in test_workflow_labeling.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from workflows import SNAKEMAKE, make_workdir, module_folder, only_look, snakemake, tiny_config

from bps_labeler.data.split import split_filenames
from bps_labeler.labeling.annotations import filename_of, image_url, read_labels, read_truth
from bps_labeler.selection.records import read_selected

pytestmark = pytest.mark.workflow

TARGET = "results/round_2/model.ckpt"


def file_config() -> dict:
    cfg = tiny_config()
    cfg["annotation"]["backend"] = "file"
    cfg["train"]["rule_labels"] = 10  # off by default; on here to check it
    return cfg


def label(workdir: Path, name: str, names: list[str], wrong: tuple[str, ...] = ()) -> None:
    """A person's JSON-MIN export of `names`, dropped in the store; `wrong` ones mislabeled."""
    truth = read_truth(workdir / "resources/synthetic/truth.csv")
    flip = {"track": "no track", "no track": "track"}
    records = [
        {
            "image": image_url(n, "results/data/images"),
            "id": i,
            "annotator": 7,
            "choice": flip[truth[n]] if n in wrong else truth[n],
        }
        for i, n in enumerate(names, start=1)
    ]
    (workdir / "annotations").mkdir(exist_ok=True)
    (workdir / f"annotations/{name}.json").write_text(json.dumps(records, indent=1))


def digests(workdir: Path, *patterns: str) -> dict[str, str]:
    return {
        p.relative_to(workdir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for pattern in patterns
        for p in sorted(workdir.glob(pattern))
    }


def labels_of(workdir: Path, r: int) -> dict[str, str]:
    return {
        Path(a["image"]).name: a["choice"]
        for a in json.loads((workdir / f"results/round_{r}/annotations.json").read_text())
    }


def validation_sides(workdir: Path) -> tuple[list[str], list[str]]:
    """(known, undecided) validation images: the rule answers the first, people the second."""
    rule = read_labels(workdir / "results/data/known_answers.json")
    val = split_filenames(workdir / "results/data/split.csv", "val")
    return [n for n in val if n in rule], [n for n in val if n not in rule]


def write_config(workdir: Path, cfg: dict) -> None:
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


@pytest.fixture(scope="module")
def labeled(tmp_path_factory, request) -> Iterator[Path]:
    """Two rounds and the validation images labeled by people, with the `file` backend."""
    with module_folder(tmp_path_factory, request, "kept") as folder:
        workdir = make_workdir(folder, file_config())
        snakemake(
            workdir,
            "results/round_1/selection.json",
            "results/data/split.csv",
            "resources/synthetic/truth.csv",
            "results/data/known_answers.json",
        )
        # people label the validation images the rule does not answer, and one it does, wrongly
        known, undecided = validation_sides(workdir)
        label(workdir, "validation", undecided + known[:1], wrong=tuple(known[:1]))
        label(workdir, "round_1", read_selected(workdir / "results/round_1/selection.json"))
        snakemake(workdir, "results/round_2/selection.json")
        label(workdir, "round_2", read_selected(workdir / "results/round_2/selection.json"))
        snakemake(workdir, TARGET)
        yield workdir


def test_the_store_records_what_people_were_given(labeled):
    for r in (1, 2):
        kept = json.loads((labeled / f"annotations/round_{r}.selection.json").read_text())
        assert kept["labeler"]["backend"] == "file" and kept["labeler"]["kind"] == "people"
        assert kept["selection"] == json.loads((labeled / f"results/round_{r}/selection.json").read_text())
        report = json.loads((labeled / f"results/round_{r}/annotation_report.json").read_text())
        assert report["n_labeled"] == 20 and report["labeler"] == "people"
    val = json.loads((labeled / "annotations/validation.selection.json").read_text())
    known, undecided = validation_sides(labeled)
    assert known and undecided
    assert sorted(val["filenames"]) == sorted(undecided)  # the rule's images are not people's work


def test_the_rule_answers_known_validation_images_and_a_person_who_contradicts_it_wins(labeled):
    known, undecided = validation_sides(labeled)
    truth = read_truth(labeled / "resources/synthetic/truth.csv")
    records = json.loads((labeled / "results/validation/annotations.json").read_text())
    by_name = {filename_of(r["image"]): r for r in records}
    assert sorted(by_name) == sorted(known + undecided)
    assert {by_name[n]["annotator"] for n in known[1:]} == {"rule"}
    assert all(by_name[n]["choice"] == "no track" and by_name[n]["known_answer"] for n in known[1:])
    # the one known image a person labeled keeps the person's (wrong) label, and is reported
    assert by_name[known[0]]["annotator"] == 7 and by_name[known[0]]["choice"] != truth[known[0]]
    report = json.loads((labeled / "results/validation/annotation_report.json").read_text())
    assert report["rule_conflicts"] == [{"filename": known[0], "person": "track", "rule": "no track"}]
    assert report["n_rule"] == len(known) - 1
    assert (
        "labeled 'track' by a person, 'no track' by the rule" in (labeled / "logs/annotate_validation.log").read_text()
    )
    # every round's model also trains on a sample of the rule's labels, never on validation images
    metrics = json.loads((labeled / "results/round_2/metrics.json").read_text())
    assert metrics["n_labels"] == 40 and metrics["n_rule_labels"] == 10
    assert metrics["n_known_train"] >= metrics["n_rule_labels"]


def test_a_changed_selection_config_keeps_labeled_rounds(labeled):
    """Issue case 3: as root, a changed n_samples used to delete round 1's labels."""
    store, sel = digests(labeled, "annotations/*"), digests(labeled, "results/round_*/selection.json")
    cfg = file_config()
    cfg["selection"][0]["n_samples"] = 22
    write_config(labeled, cfg)
    try:
        plan = snakemake(labeled, "-n", TARGET)
        assert "Nothing to be done" in plan.stdout
        assert "round 1 was given to a labeler (annotations/round_1.selection.json)" in plan.stderr
        snakemake(labeled, TARGET, "--forcerun", "select")  # even when the select rule does run
        assert "its 20 images are kept, not selected again" in (labeled / "logs/round_1/select.log").read_text()
        assert digests(labeled, "annotations/*") == store
        assert digests(labeled, "results/round_*/selection.json") == sel
    finally:
        write_config(labeled, file_config())


def test_a_label_correction_retrains_but_never_reselects(labeled):
    """Issue case 4: flipping a choice in round 1's export used to re-select round 2 and drop its labels."""
    sel = digests(labeled, "results/round_*/selection.json")
    before = (labeled / "annotations/round_2.json").read_bytes()
    round_2 = labels_of(labeled, 2)
    export = labeled / "annotations/round_1.json"
    records = json.loads(export.read_text())
    flipped = "no track" if records[0]["choice"] == "track" else "track"
    records[0]["choice"] = flipped
    export.write_text(json.dumps(records, indent=1))
    model = (labeled / "results/round_2/model.ckpt").stat().st_mtime
    snakemake(labeled, TARGET)
    assert labels_of(labeled, 1)[Path(records[0]["image"]).name] == flipped
    assert labels_of(labeled, 2) == round_2 and (labeled / "annotations/round_2.json").read_bytes() == before
    assert digests(labeled, "results/round_*/selection.json") == sel
    assert (labeled / "results/round_2/model.ckpt").stat().st_mtime > model  # retrained on the correction


def test_forceall_and_deleted_results_lose_nothing(labeled):
    store, sel = digests(labeled, "annotations/*"), digests(labeled, "results/round_*/selection.json")
    labels = {r: labels_of(labeled, r) for r in (1, 2)}
    snakemake(labeled, TARGET, "--forceall")
    shutil.rmtree(labeled / "results" / "round_1")
    shutil.rmtree(labeled / "results" / "round_2")
    snakemake(labeled, TARGET)
    assert digests(labeled, "annotations/*") == store
    assert digests(labeled, "results/round_*/selection.json") == sel
    assert {r: labels_of(labeled, r) for r in (1, 2)} == labels


def test_a_simulated_labeler_is_refused_before_any_job(labeled):
    """Issue case 1: the default config's oracle used to relabel people's rounds."""
    store = digests(labeled, "annotations/*", "results/**/annotations.json")
    for override in (
        "annotation={backend: oracle}",
        "annotation={backend: labelstudio, labelstudio: {simulate: oracle}}",
    ):
        proc = snakemake(labeled, TARGET, "--config", override, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0
        assert "round 1 was given to backend file (people) (annotations/round_1.selection.json)" in out
        assert "validation was given to backend file (people)" in out
        assert "Nothing was changed" in out and "mv annotations annotations.old" in out
        assert "Finished jobid" not in out
    assert digests(labeled, "annotations/*", "results/**/annotations.json") == store


def test_without_roots_override_a_rerun_works_and_a_read_only_store_is_only_read(labeled, tmp_path):
    """Run as a normal user runs: protected() outputs used to stop such reruns with
    ProtectedOutputException, while as root they protected nothing.

    Root without CAP_DAC_OVERRIDE (and its kin) meets file modes as a normal user does; the venv's
    interpreter lives under /root here, out of reach of another uid. The store is made read-only,
    as a careful person might: the pipeline only reads it.
    """
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to drop root's override of file modes")
    work = tmp_path / "work"
    shutil.copytree(labeled, work, symlinks=True)
    store = digests(work, "annotations/*")
    cfg = file_config()
    cfg["selection"][0]["n_samples"] = 22
    cfg["train"]["epochs"] = 1  # retrains every round
    write_config(work, cfg)
    for path in (work / "annotations").iterdir():
        path.chmod(0o444)
    (work / "annotations").chmod(0o555)
    caps = "-dac_override,-dac_read_search,-fowner"
    try:
        proc = subprocess.run(
            [
                "setpriv",
                "--bounding-set",
                caps,
                "--inh-caps",
                caps,
                SNAKEMAKE,
                "--snakefile",
                str(REPO / "workflow" / "Snakefile"),
                "--directory",
                str(work),
                "--cores",
                "2",
                TARGET,
            ],
            capture_output=True,
            text=True,
            timeout=1500,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert "ProtectedOutputException" not in proc.stderr
        assert digests(work, "annotations/*") == store
        assert json.loads((work / "results/round_2/metrics.json").read_text())["n_labels"] == 40
    finally:
        (work / "annotations").chmod(0o755)


def test_what_people_were_given_is_recorded_at_handout_and_never_replaced(tmp_path):
    """Issue 24: with the `file` backend the store used to record the selection of the moment
    the export arrived, so a selection config changed in between made people's labels unusable.

    A round built by hand (its selection.json) is recorded by no one until its export is checked:
    the export of an earlier selection is refused, saying how to get it back, and restoring the
    config does. A round handed out by the run is recorded then, and no config change, rerun or
    wrong export makes the store say anything else.
    """
    workdir = make_workdir(tmp_path / "work", file_config())
    plan = snakemake(workdir, "-n", TARGET)  # a fresh folder: the plan runs up to the handouts
    assert "handout" in plan.stdout and "handout_validation" in plan.stdout
    snakemake(
        workdir,
        "results/round_1/selection.json",
        "resources/synthetic/truth.csv",
        "results/data/split.csv",
        "results/data/known_answers.json",
    )
    first = read_selected(workdir / "results/round_1/selection.json")
    known, undecided = validation_sides(workdir)
    label(workdir, "validation", undecided)
    # the selection config changes before the export of round 1 arrives
    changed = file_config()
    changed["selection"][0]["n_samples"] = 18
    write_config(workdir, changed)
    snakemake(workdir, "results/round_1/selection.json")
    assert read_selected(workdir / "results/round_1/selection.json") != first
    label(workdir, "round_1", first)
    only_look(workdir, TARGET)  # an export without its record: planning used to record B here
    assert not (workdir / "annotations/round_1.selection.json").exists()
    proc = snakemake(workdir, "results/round_1/model.ckpt", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "is not in this round's selection" in out
    assert "Nothing is recorded for round 1 yet" in out and "restore the selection config" in out
    assert not (workdir / "annotations/round_1.selection.json").exists()
    write_config(workdir, file_config())
    snakemake(workdir, "results/round_1/model.ckpt")
    kept = json.loads((workdir / "annotations/round_1.selection.json").read_text())
    assert kept["filenames"] == first
    # round 2, handed out by the run: recorded before any export, the run stops saying where it goes
    proc = snakemake(workdir, TARGET, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "round 2 is handed out to people: its 20 images" in out and "annotations/round_2.json" in out
    given = (workdir / "annotations/round_2.selection.json").read_bytes()
    second = json.loads(given)["filenames"]
    only_look(workdir, TARGET)  # a half-labeled run
    # a store written before records carried their checksum: read as it is, never migrated
    record = workdir / "annotations/round_2.selection.json"
    old_format = json.loads(given)
    del old_format["filenames_sha256"]
    record.write_text(json.dumps(old_format, indent=1) + "\n")
    only_look(workdir, TARGET)
    record.write_bytes(given)
    assert second == read_selected(workdir / "results/round_2/selection.json")
    write_config(
        workdir, changed | {"selection": [changed["selection"][0], {**changed["selection"][1], "n_samples": 15}]}
    )
    proc = snakemake(workdir, TARGET, "--forcerun", "select", check=False)  # a rerun of every selection
    assert proc.returncode != 0 and "round 2 is handed out to people: its 20 images" in proc.stderr
    label(workdir, "round_2", first[:5])  # a wrong export: refused, nothing recorded over
    proc = snakemake(workdir, TARGET, check=False)
    assert proc.returncode != 0 and "is not in this round's selection" in proc.stdout + proc.stderr
    assert (workdir / "annotations/round_2.selection.json").read_bytes() == given
    label(workdir, "round_2", second)
    snakemake(workdir, TARGET)
    assert (workdir / "annotations/round_2.selection.json").read_bytes() == given
    assert json.loads((workdir / "annotations/round_1.selection.json").read_text()) == kept
    assert json.loads((workdir / "results/round_2/metrics.json").read_text())["n_labels"] == 40


def test_validation_images_no_one_answers_any_more_are_named(labeled, tmp_path):
    """The second sweep: emptying known_answers after the validation images were handed out shrank
    the validation set from 48 to 24 in silence (balanced accuracy 0.78 -> 0.93); people's labels of
    the images the rule used to answer were then refused as 'not in this round's selection'."""
    work = tmp_path / "work"
    shutil.copytree(labeled, work, symlinks=True)
    target = "results/validation/annotations.json"
    proc = snakemake(work, target, "--config", "known_answers=[]", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert re.search(
        r"(\d+) of the (\d+) validation images have no label, e.g. \[.*\]: people were not given them "
        r"\(annotations/validation.selection.json\) and known_answers does not answer them \(known_answers "
        r"or the split changed since\)\. Every round is scored on the same validation images: restore "
        r"known_answers and split, or have people label them and add their records to "
        r"annotations/validation.json\.",
        out,
    ), out[-3000:]
    known, undecided = validation_sides(labeled)
    label(work, "validation", undecided + known)  # people label the rest: taken, not refused
    snakemake(work, target, "--config", "known_answers=[]")
    records = json.loads((work / target).read_text())
    assert len(records) == len(known) + len(undecided) and {r["annotator"] for r in records} == {7}
    # a round past what the pool holds names the rounds asked for
    proc = snakemake(
        work,
        "results/round_3/selection.json",
        "--config",
        "selection=[{n_samples: 500, strategies: [{input: {type: EMBEDDINGS}, strategy: {type: DIVERSITY}}]}]",
        check=False,
    )
    assert "Round 3 was asked for by the target or by `rounds` (2 in the config): ask for fewer rounds." in (
        proc.stdout + proc.stderr
    )
