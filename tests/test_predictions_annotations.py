import json
from pathlib import Path

import numpy as np
import pytest

from bps_labeler.errors import InputError
from bps_labeler.labeling.annotations import (
    filename_of,
    folder_of,
    from_full_export,
    image_url,
    is_full_export,
    load_export,
    oracle_records,
    read_labels,
    resolve,
    run_image_folders,
    unlabeled_message,
    write_records,
)
from bps_labeler.models.predictions import read_predictions, write_predictions
from bps_labeler.selection.scores import active_learning_scores

CATS = ("track", "no track")


def test_scores_follow_lightlys_definitions():
    s = active_learning_scores(np.array([[0.5, 0.5], [1.0, 0.0], [0.8, 0.2]]))
    np.testing.assert_allclose(s["uncertainty_entropy"][:2], [1.0, 0.0])
    np.testing.assert_allclose(s["uncertainty_least_confidence"], [1.0, 0.0, 0.4])
    np.testing.assert_allclose(s["uncertainty_margin"], [1.0, 0.0, 0.4])
    h = -(0.8 * np.log2(0.8) + 0.2 * np.log2(0.2))
    assert s["uncertainty_entropy"][2] == pytest.approx(h)


def test_prediction_format_round_trip(tmp_path):
    names = ["a_proj.jpg", "b_proj.jpg"]
    probs = np.array([[0.9, 0.1], [0.3, 0.7]])
    write_predictions(tmp_path, names, probs, CATS)
    assert json.loads((tmp_path / "tasks.json").read_text()) == ["bps-classification"]
    schema = json.loads((tmp_path / "bps-classification" / "schema.json").read_text())
    assert schema == {
        "task_type": "classification",
        "categories": [{"id": 0, "name": "track"}, {"id": 1, "name": "no track"}],
    }
    rec = json.loads((tmp_path / "bps-classification" / "b_proj.json").read_text())
    assert rec == {
        "file_name": "b_proj.jpg",
        "predictions": [{"category_id": 1, "score": 0.7, "probabilities": [0.3, 0.7]}],
    }
    np.testing.assert_allclose(read_predictions(tmp_path, names), probs)
    with pytest.raises(InputError, match=r"predictions missing for 1 image\(s\), e.g. \['c_proj.jpg'\]"):
        read_predictions(tmp_path, names + ["c_proj.jpg"])


def test_oracle_writes_json_min_like_a_human_export(tmp_path):
    truth = {"a.jpg": "track", "b.jpg": "no track"}
    recs = oracle_records(["a.jpg", "b.jpg"], truth, "results/data/images")
    assert recs[0] == {
        "image": "/data/local-files/?d=results/data/images/a.jpg",
        "id": 1,
        "choice": "track",
        "annotator": "oracle",
    }
    write_records(recs, tmp_path / "ann.json")
    assert read_labels(tmp_path / "ann.json") == truth


def test_oracle_noise_is_seeded():
    truth = {f"{i}.jpg": "track" for i in range(400)}
    a = oracle_records(sorted(truth), truth, "x", noise=0.25, seed=1)
    b = oracle_records(sorted(truth), truth, "x", noise=0.25, seed=1)
    flipped = sum(r["choice"] == "no track" for r in a)
    assert a == b and 60 < flipped < 140


def test_oracle_refuses_images_without_truth():
    with pytest.raises(InputError, match="no true label for 1 image"):
        oracle_records(["x.jpg"], {}, "root")


@pytest.mark.parametrize(
    "url",
    [
        "/data/local-files/?d=results/data/images/P1_a.jpg",
        "/data/local-files/?d=results%2Fdata%2Fimages%2FP1_a.jpg",
        "s3://bucket/data/P1_a.jpg",
        "/data/upload/3/P1_a.jpg",
        # Label Studio stores an uploaded file as <8 hex>-<name> (test_labelstudio uploads one)
        "/data/upload/3/1f0c9a2e-P1_a.jpg",
        "http://localhost:8080/data/upload/12/deadbeef-P1_a.jpg",
    ],
)
def test_filename_of_any_export_form(url):
    assert filename_of(url) == "P1_a.jpg"


@pytest.mark.parametrize(
    "image",
    [
        "/data/local-files/?d=results/data/images/P1_a.jpg",  # document root = the working folder
        "/data/local-files/?d=main/results/data/images/P1_a.jpg",  # a root above it
        "/data/local-files/?d=images/P1_a.jpg",  # the image folder's parent as root
        "/data/local-files/?d=P1_a.jpg",  # the image folder itself as the document root
        "/data/local-files/?d=.snakemake/storage/s3/b/run/results/data/images/P1_a.jpg",  # storage copy
        "/data/local-files/?d=bps-ds/data/P1_a.jpg",  # a local datasource served by Label Studio
        "s3://bps-ds-bucket/run1/data/P1_a.jpg",  # an S3 datasource as Label Studio storage
        "/data/upload/4/1f0c9a2e-P1_a.jpg",  # an upload is Label Studio's own copy
        "/data/upload/4/P1_a.jpg",  # ... also as older servers named it, without the prefix
        "http://localhost:8080/data/upload/4/1f0c9a2e-P1_a.jpg",
        "https://copies.example.org/bps/P1_a.jpg",  # a folder the user added
    ],
)
def test_labels_of_this_runs_images_are_taken_wherever_label_studio_served_them(tmp_path, image):
    work = tmp_path / "main"
    folders = run_image_folders("results/data/images", "s3://bps-ds-bucket/run1", ["https://copies.example.org/bps"])
    folders += run_image_folders(str(work / "results/data/images"), str(tmp_path / "bps-ds"))
    labels, _ = resolve([{"image": image, "choice": "track"}], "round_1.json", ["P1_a.jpg"], folders=folders)
    assert [filename_of(r["image"]) for r in labels] == ["P1_a.jpg"]


@pytest.mark.parametrize(
    "image, folder",
    [
        ("/data/local-files/?d=other-experiment/images/P1_a.jpg", "other-experiment/images"),
        ("/data/local-files/?d=/mnt/old/results/data/images/P1_a.jpg", "/mnt/old/results/data/images"),
        ("s3://someone-elses-bucket/run1/data/P1_a.jpg", "s3://someone-elses-bucket/run1/data"),
        ("s3://bps-ds-bucket/run2/data/P1_a.jpg", "s3://bps-ds-bucket/run2/data"),
        ("https://example.org/bps/P1_a.jpg", "https://example.org/bps"),
    ],
)
def test_a_label_of_another_datasets_file_of_the_same_name_is_refused(image, folder):
    folders = run_image_folders("results/data/images", "s3://bps-ds-bucket/run1")
    with pytest.raises(InputError) as err:
        resolve([{"image": image, "choice": "track"}], "round_1.json", ["P1_a.jpg"], folders=folders)
    message = str(err.value)
    assert "round_1.json, record 0 (P1_a.jpg)" in message and repr(folder) in message
    assert "annotation.image_folders" in message


def test_an_upload_like_prefix_outside_uploads_is_part_of_the_name():
    assert filename_of("/data/local-files/?d=images/1f0c9a2e-P1_a.jpg") == "1f0c9a2e-P1_a.jpg"


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "empty file"),
        ("{", "not valid JSON"),
        ('{"image": "x"}', "expected a list of JSON-MIN records"),
        ('[{"image": "/a.jpg"}]', r"record 0 \(/a.jpg\): no 'choice' field"),
        ('[{"image": "/a.jpg", "choice": "maybe"}]', "label 'maybe' is not one of track, no track"),
        ('[{"choice": "track"}]', "record 0: no 'image' field"),
        ('[{"image": 17, "choice": "track"}]', r"record 0: 'image' is int 17, not a file path or URL"),
        (b'[{"image": "/caf\xe9.jpg", "choice": "track"}]', r"not UTF-8 text \(byte 0xe9 at offset 16\)"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply to be a Label Studio export"),
    ],
)
def test_bad_exports_are_named(tmp_path, content, message):
    path = tmp_path / "round_1.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InputError, match=message) as err:
        read_labels(path)
    assert str(path) in str(err.value)


def test_an_export_that_is_not_a_file_is_named(tmp_path):
    folder = tmp_path / "round_1.json"
    folder.mkdir()
    with pytest.raises(InputError, match="round_1.json: is a folder"):
        read_labels(folder)
    endless = tmp_path / "round_2.json"
    endless.symlink_to("/dev/zero")  # read to its end, it never ends
    with pytest.raises(InputError, match="round_2.json: not a regular file"):
        read_labels(endless)


def test_a_full_export_with_another_choices_control_name_is_read():
    """A project of the user's own may call its Choices control anything."""
    task = {
        "id": 1,
        "data": {"image": "/data/local-files/?d=images/a.jpg"},
        "annotations": [
            {"id": 5, "result": [{"from_name": "label", "type": "choices", "value": {"choices": ["track"]}}]}
        ],
    }
    assert from_full_export([task], Path("x.json"))[0]["choice"] == "track"


@pytest.mark.parametrize("name", ["p+q.jpg", "m&n.jpg", "h#1.jpg", "pct%41.jpg", "a b.jpg", "x?y=1.jpg"])
def test_a_name_with_url_characters_comes_back_as_itself(tmp_path, name):
    """Issue 24: URLs were written unencoded and read back decoded, so 'p+q.jpg' came back as
    'p q.jpg' and 'h#1.jpg' as 'h': known answers, the oracle and Label Studio lost the image."""
    url = image_url(name, "results/data/images")
    assert filename_of(url) == name and folder_of(url) == "results/data/images"
    write_records(oracle_records([name], {name: "track"}, "results/data/images"), tmp_path / "a.json")
    assert read_labels(tmp_path / "a.json") == {name: "track"}
    labels, report = resolve(load_export(tmp_path / "a.json"), "a.json", [name])
    assert report["n_labeled"] == 1 and filename_of(labels[0]["image"]) == name


def test_skipped_written_as_a_string_is_read_as_a_boolean():
    """Issue 24: "skipped": "false" (a string) with a choice dropped the label as skipped."""
    recs = [
        {"image": "/data/local-files/?d=i/a.jpg", "choice": "track", "skipped": "false"},
        {"image": "/data/local-files/?d=i/b.jpg", "skipped": "True"},
        {"image": "/data/local-files/?d=i/c.jpg", "choice": "no track", "skipped": 0},
    ]
    labels, report = resolve(recs, "round_1.json", ["a.jpg", "b.jpg", "c.jpg"])
    assert [filename_of(r["image"]) for r in labels] == ["a.jpg", "c.jpg"] and report["skipped"] == ["b.jpg"]
    with pytest.raises(InputError) as err:
        resolve([{"image": "i/a.jpg", "choice": "track", "skipped": "maybe"}], "round_1.json", ["a.jpg"])
    assert str(err.value) == (
        "round_1.json, record 0 (a.jpg): 'skipped' is 'maybe'; expected true or false. Export the tasks "
        "from Label Studio again rather than editing the file."
    )


@pytest.mark.parametrize(
    ("times", "chosen"),
    [
        ((None, None), "no track"),  # a correction appended without times: the later record
        (("2024-05-01T09:00:00Z", "2024-05-01T10:00:00+02:00"), "track"),  # 09:00Z is after 08:00Z
        (("2024-05-01T10:00:00Z", None), "no track"),  # a correction without a time, appended: the later
    ],
)
def test_a_tie_goes_to_the_latest_update_or_the_later_record(times, chosen):
    recs = [
        {"image": "i/a.jpg", "choice": "track", "updated_at": times[0]},
        {"image": "i/a.jpg", "choice": "no track", "updated_at": times[1]},
    ]
    labels, report = resolve(recs, "round_1.json", ["a.jpg"])
    assert labels[0]["choice"] == chosen and report["disagreements"][0]["chosen"] == chosen
    assert "\0order" not in str(labels)


def test_a_missing_export_is_said_to_be_missing(tmp_path):
    with pytest.raises(InputError) as err:
        load_export(tmp_path / "round_1.json")
    assert (
        str(err.value) == f"{tmp_path}/round_1.json: no such file; put the exported JSON file (JSON-MIN or JSON) there."
    )


def _task(image: str, results: list[dict]) -> dict:
    return {"id": 1, "data": {"image": image}, "annotations": [{"id": 1, "result": results}]}


@pytest.mark.parametrize(
    "record",
    [
        {"choice": ["track"]},  # a multiple-choice control's list of one
        {"choice": {"choices": ["track"]}},  # older Label Studio JSON-MIN
        {"label": "track"},  # JSON-MIN of a project whose Choices control is named otherwise
        {"label": ["track"], "annotator": 3, "lead_time": 2.5},
    ],
)
def test_an_answer_spelled_another_way_is_read(record):
    labels, report = resolve([{"image": "i/a.jpg", **record}], "round_1.json", ["a.jpg"])
    assert report["n_labeled"] == 1 and labels[0]["choice"] == "track"


def test_full_export_answers_in_other_shapes(tmp_path):
    string = _task("i/a.jpg", [{"from_name": "choice", "type": "choices", "value": {"choices": "track"}}])
    windows = _task(
        "C:\\Users\\me\\results\\data\\images\\b.jpg",
        [{"from_name": "choice", "type": "choices", "value": {"choices": ["no track"]}}],
    )
    path = tmp_path / "round_1.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps([string, windows]).encode())  # with a byte-order mark
    labels, report = resolve(load_export(path), str(path), ["a.jpg", "b.jpg"], folders=["results/data/images", "i"])
    assert {filename_of(r["image"]): r["choice"] for r in labels} == {"a.jpg": "track", "b.jpg": "no track"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            [{"image": "i/a.jpg", "choice": ["track", "no track"]}],
            "round_1.json, record 0 (a.jpg): several answers ['track', 'no track'] to one image; a task takes "
            'one choice. Make the labeling interface\'s Choices single-choice (choice="single"), fix the task '
            "and export again.",
        ),
        (
            [
                _task(
                    "i/a.jpg", [{"from_name": "choice", "type": "choices", "value": {"choices": ["track", "no track"]}}]
                )
            ],
            "<path>, task 0: several answers ['track', 'no track'] to one image",
        ),
        (
            [_task("i/a.jpg", [{"from_name": "label", "type": "rectanglelabels", "value": {"x": 1}}])],
            "<path>, task 0: its answers are rectanglelabels, not choices. The pipeline reads a project whose "
            "labeling interface asks one question with Choices (track / no track); export the tasks of that project.",
        ),
        (
            [{"image": "i/a.jpg", "label": "track", "other": "no track"}],
            "record 0 (a.jpg): no 'choice' field (unlabeled).",
        ),
    ],
)
def test_answers_that_cannot_be_one_label_are_refused(tmp_path, content, message):
    path = tmp_path / "round_1.json"
    path.write_text(json.dumps(content))
    with pytest.raises(InputError) as err:
        resolve(load_export(path), "round_1.json", ["a.jpg"])
    assert message.replace("<path>", str(path)) in str(err.value)


FORMATS = "The pipeline reads Label Studio's JSON and JSON-MIN exports: export the project again as one of those."


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (
            b"PK\x03\x04rest",
            "a ZIP archive, not a JSON export (Label Studio's COCO, YOLO and Pascal VOC downloads come packed).",
        ),
        (
            b"\x1f\x8brest",
            "a gzip file, not a JSON export (Label Studio's COCO, YOLO and Pascal VOC downloads come packed).",
        ),
        (
            b"image,id,choice,annotator\ni/a.jpg,1,track,7\n",
            "a CSV export (its first line is 'image,id,choice,annotator').",
        ),
        (b"image\tid\tchoice\ni/a.jpg\t1\ttrack\n", "a TSV export (its first line is 'image\\tid\\tchoice')."),
        (b"0 0.5 0.5 1 1\n", "not valid JSON (Extra data: line 1 column 3 (char 2))."),
        (
            b'{"images": [], "annotations": [], "categories": []}',
            "expected a list of JSON-MIN records (or a full JSON export), got a COCO export.",
        ),
    ],
)
def test_an_export_in_another_format_says_what_it_is(tmp_path, content, said):
    path = tmp_path / "round_1.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        load_export(path)
    assert str(err.value) == f"{path}: {said} {FORMATS}"


def test_unlabeled_tasks_of_a_full_export_are_not_blamed_on_json_min(tmp_path):
    path = tmp_path / "round_2.json"
    path.write_text(json.dumps([{"id": 1, "data": {"image": "i/a.jpg"}, "annotations": [], "predictions": [{}]}]))
    labels, report = resolve(load_export(path), str(path), ["a.jpg"])
    assert report["unlabeled"] == ["a.jpg"] and is_full_export(path)
    said = unlabeled_message(path, report["unlabeled"], 1, is_full_export(path))
    assert said == (
        f"{path}: 1 of the 1 images to label have no label, e.g. ['a.jpg']. Label them and export again. This "
        "full JSON export holds no annotation for them: people have not labeled them yet (a skip would show as a "
        "cancelled annotation), or the export was made before they were done."
    )
    assert "export as JSON (the full format)" in unlabeled_message(path, ["a.jpg"], 1, False)


def test_an_unanswered_task_is_not_labeled_by_its_data(tmp_path):
    """A full export's record holds the Choices answer under `choice`; a data field that happens to
    hold a category (the user's own `expert` column) is no answer."""
    path = tmp_path / "round_1.json"
    task = {"id": 1, "data": {"image": "i/a.jpg", "expert": "no track"}, "annotations": [{"id": 1, "result": []}]}
    path.write_text(json.dumps([task]))
    with pytest.raises(InputError, match=r"^round_1.json, record 0 \(a.jpg\): no 'choice' field \(unlabeled\).$"):
        resolve(load_export(path), "round_1.json", ["a.jpg"])
