"""The conda environment for `--sdm conda`: the same pins as the venv, and the project inside it.

Conda channels cannot be reached here, so the environment itself is never built in the tests; what
can be checked without them is checked: the pins, the path the rules use, and the post-deploy
script that installs the project's package.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import REPO

ENV = REPO / "workflow" / "envs" / "bps.yaml"


def pins(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)==([^\s;#]+).*", line)
        if m:
            out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def env_pins() -> dict[str, str]:
    deps = yaml.safe_load(ENV.read_text())["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    return pins(pip)


def test_env_pins_are_those_of_requirements():
    required = pins((REPO / "requirements.txt").read_text().splitlines())
    env = env_pins()
    assert env, "no pins in the env file"
    differ = {k: (v, required.get(k)) for k, v in env.items() if required.get(k) != v}
    assert not differ, f"{ENV.name} pins differ from requirements.txt (env, requirements): {differ}"


def test_env_holds_every_dependency_of_the_package():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {re.split(r"[<>=\[ ;]", d)[0].lower().replace("_", "-") for d in project["dependencies"]}
    assert wanted - set(env_pins()) == set()


def test_rules_point_at_the_env_file():
    common = (REPO / "workflow" / "rules" / "common.smk").read_text()
    rel = re.search(r'CONDA_ENV = "([^"]+)"', common).group(1)
    assert (REPO / "workflow" / "rules" / rel).resolve() == ENV


def test_post_deploy_installs_the_package_into_an_environment(tmp_path):
    """What Snakemake runs inside the new environment: here a fresh venv stands in for it."""
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "BPS_LABELER_SRC": str(REPO)}
    env.pop("PYTHONPATH", None)
    script = ENV.with_name("bps.post-deploy.sh")
    proc = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import bps_labeler; print(bps_labeler.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert Path(where.stdout.strip()).parent == REPO / "src" / "bps_labeler", where.stderr
    # without the checkout's path it stops with what to do
    env.pop("BPS_LABELER_SRC")
    proc = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "BPS_LABELER_SRC" in proc.stderr


@pytest.mark.workflow
def test_a_snakemake_without_the_package_parses_the_workflow(tmp_path):
    """A system-wide Snakemake (here: an environment that sees the venv's packages, not ours)
    plans the workflow from the checkout's src/: the one place the package is not imported as
    installed (workflow/rules/common.smk)."""
    from workflows import make_workdir, tiny_config

    venv = tmp_path / "system"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = next(Path(p) for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    # a .pth entry adds the folder, but no .pth file in it: the editable install of ours stays out
    (next((venv / "lib").glob("python3*/site-packages")) / "venv-packages.pth").write_text(f"{site}\n")
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = subprocess.run([python, "-c", "import bps_labeler"], env=env, capture_output=True, text=True, check=False)
    assert probe.returncode != 0 and "No module named 'bps_labeler'" in probe.stderr
    workdir = make_workdir(tmp_path / "wf", tiny_config())
    cmd = [python, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"), "-n", "--cores", "1"]
    proc = subprocess.run([*cmd, "--directory", str(workdir)], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "results/round_2/model.ckpt" in proc.stdout, proc.stderr[-3000:]
