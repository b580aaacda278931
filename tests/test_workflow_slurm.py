"""The tiny config through the project's SLURM profile, on a real one-node SLURM cluster.

The cluster (tests/slurm_cluster.py) is Debian's slurm-wlm started here. As root (CI runs as root
on a fresh machine) it must start, or the test fails; without root it is skipped with the reason,
unless BPS_REQUIRE_SLURM is set. A machine with its own SLURM (/etc/slurm/slurm.conf) is left alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
import slurm_cluster
from workflows import REPO, make_workdir, snakemake, tiny_config

pytestmark = pytest.mark.workflow

#: Rules that must never be cluster jobs: labeling, bookkeeping that takes less than a scheduler
#: round trip, publishing. (fetch_meta, download and publishing to S3 are checked in the rules.)
LOCAL = {
    "filter_meta",
    "images",
    "metadata",
    "split",
    "known_answers",
    "annotate",
    "annotate_validation",
    "publish_data",
    "publish_predictions",
}
#: What goes through sbatch on the tiny config: round 1's selection, then a group job per round
#: with its model, its predictions and the next round's selection.
SUBMITTED = {
    "rule_synthesize",
    "rule_convert",
    "rule_embed",
    "group_round_0_select",
    "group_round_1_predict_select_train",
    "group_round_2_train",
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[slurm_cluster.Cluster]:
    """The one-node cluster; as root (CI) it must start, elsewhere the test is skipped with why."""
    must = os.geteuid() == 0 or bool(os.environ.get("BPS_REQUIRE_SLURM"))
    try:
        c = slurm_cluster.start(tmp_path_factory.mktemp("slurm"))
    except slurm_cluster.ClusterError as err:
        if must and not isinstance(err, slurm_cluster.ForeignCluster):
            pytest.fail(f"SLURM must run here (root or BPS_REQUIRE_SLURM) but cannot start: {err}")
        pytest.skip(f"no SLURM for this test: {err}")
    yield c
    c.stop()


def test_rounds_run_as_slurm_jobs_and_match_a_local_run(cluster, tiny_run, tmp_path):
    workdir = make_workdir(tmp_path / "wf", tiny_config())
    proc = snakemake(
        workdir,
        "--profile",
        str(REPO / "profiles" / "slurm"),
        "results/round_2/model.ckpt",
        # test-only overrides: a cluster without accounting, 2 cores, no waiting between checks
        "--slurm-status-command",
        "squeue",
        "--slurm-no-account",
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--max-threads",
        "2",
        "--latency-wait",
        "5",
        "--jobs",
        "4",
        cores=False,
        env=cluster.env,
    )
    out = proc.stdout + proc.stderr
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", out)
    assert submitted, out[-3000:]
    # every SLURM job id Snakemake reports is one slurmctld accepted
    accepted = set(
        re.findall(r"_slurm_rpc_submit_batch_job: JobId=(\d+)", (cluster.folder / "slurmctld.log").read_text())
    )
    assert set(submitted) <= accepted, (submitted, accepted)
    # the plugin's own logs, one per job, named by job id: the heavy rules went through sbatch ...
    logs = workdir / ".snakemake" / "slurm_logs"
    by_rule = {p.relative_to(logs).parts[0]: p for p in logs.rglob("*.log")}
    assert set(by_rule) == SUBMITTED, sorted(by_rule)
    ids = {p.stem for p in logs.rglob("*.log")}
    assert ids == set(submitted) and len(submitted) == 8  # 1 + 3 shards + 1 + 3 round groups
    # ... and the local ones did not: they ran in Snakemake's own process
    local_ran = set(re.findall(r"^localrule (\w+):", out, flags=re.MULTILINE))
    assert LOCAL - {"publish_data", "publish_predictions"} <= local_ran, local_ran
    assert not {f"rule_{r}" for r in LOCAL} & set(by_rule)
    # the same results as the local run of the same config
    for r in (1, 2):
        sel = f"results/round_{r}/selection.json"
        assert (workdir / sel).read_bytes() == (tiny_run / sel).read_bytes(), f"round {r} selection differs"
    assert (workdir / "results/round_2/model.ckpt").stat().st_size > 1_000_000
    # and a second call has nothing to do
    again = snakemake(
        workdir,
        "--profile",
        str(REPO / "profiles" / "slurm"),
        "-n",
        "results/round_2/model.ckpt",
        "--slurm-status-command",
        "squeue",
        "--slurm-no-account",
        cores=False,
        env=cluster.env,
    )
    assert "Nothing to be done" in again.stdout + again.stderr
