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
