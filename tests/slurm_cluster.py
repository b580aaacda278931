"""A real one-node SLURM cluster on this machine, for the workflow's SLURM test.

CI runs as root on a fresh Debian machine: this installs Debian's slurm-wlm and munge when they
are missing, writes a slurm.conf for this host, and starts munged (unless one already answers),
slurmctld and slurmd. `Cluster.stop` stops exactly the daemons it started, by their PIDs, and
removes the slurm.conf it wrote.

The slurm.conf goes where SLURM's tools look by default, /etc/slurm/slurm.conf, because the
Snakemake SLURM plugin's job step (srun inside each job) drops every SLURM_* variable, SLURM_CONF
included. A machine that already has a slurm.conf there has its own SLURM: then no cluster is
started. State, spool and log files stay in the cluster's own folder.

Settings follow what a one-node cluster without systemd, cgroups or accounting needs:
proctrack/linuxproc, task/none, no job accounting (the Snakemake SLURM plugin then asks squeue for
job states), DefMemPerCPU so that jobs without a memory request still fit.

    python tests/slurm_cluster.py [FOLDER]    # start one by hand; Ctrl-C stops it
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from apt import apt_install

PACKAGES = ["slurm-wlm", "munge"]
PARTITION = "debug"
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")


class ClusterError(RuntimeError):
    """SLURM cannot run here; the message says why (shown as the test's skip reason)."""


class ForeignCluster(ClusterError):
    """This machine has a SLURM of its own, which the tests must not touch."""


@dataclass
class Cluster:
    folder: Path
    conf: Path
    cpus: int
    mem_mb: int
    #: (name, process) of each daemon this cluster started, in start order
    started: list[tuple[str, subprocess.Popen | int]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """The environment in which sbatch, squeue and scancel talk to this cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def stop(self) -> None:
        """Stop the daemons this cluster started (never one it found running), newest first."""
        for _name, proc in reversed(self.started):
            pid = proc if isinstance(proc, int) else proc.pid
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and _alive(proc):
                time.sleep(0.2)
            if _alive(proc):
                os.kill(pid, signal.SIGKILL)
            if not isinstance(proc, int):
                proc.wait(timeout=5)
        self.started.clear()
        if self.conf == SYSTEM_CONF and self.conf.exists() and self.conf.read_text().startswith(MARK):
            self.conf.unlink()


def _alive(proc: subprocess.Popen | int) -> bool:
    if isinstance(proc, int):
        try:
            os.kill(proc, 0)
        except ProcessLookupError:
            return False
        # a zombie of a daemon we did not fork still shows in /proc until its parent reaps it
        try:
            return "Z" not in Path(f"/proc/{proc}/stat").read_text().split(")")[-1].split()[0]
        except OSError:
            return False
    return proc.poll() is None


def ensure_installed() -> None:
    """Install slurm-wlm and munge with apt-get when they are missing (root only)."""
    if all(shutil.which(t) for t in ("slurmctld", "slurmd", "sbatch", "munged")):
        return
    if os.geteuid() != 0:
        raise ClusterError("slurm-wlm and munge are not installed and installing them needs root")
    if not shutil.which("apt-get"):
        raise ClusterError("slurm-wlm and munge are not installed and there is no apt-get here")
    error = apt_install(PACKAGES)
    if error:
        raise ClusterError(f"apt-get install {' '.join(PACKAGES)} failed: {error}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise ClusterError("cannot read MemTotal from /proc/meminfo")


MARK = "# written by bps-labeler's tests/slurm_cluster.py\n"


def write_conf(folder: Path, cpus: int, mem_mb: int, conf: Path = SYSTEM_CONF) -> Path:
    """slurm.conf for one node, this host, with every state and log file inside `folder`."""
    if conf.exists() and not conf.read_text().startswith(MARK):
        raise ForeignCluster(f"{conf} exists: this machine has its own SLURM; not starting another")
    for sub in ("state", "spool"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    conf.parent.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname().split(".")[0]
    conf.write_text(
        MARK
        + f"""\
ClusterName=bpstest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={folder / "state"}
SlurmdSpoolDir={folder / "spool"}
SlurmctldPidFile={folder / "slurmctld.pid"}
SlurmdPidFile={folder / "slurmd.pid"}
SlurmctldLogFile={folder / "slurmctld.log"}
SlurmdLogFile={folder / "slurmd.log"}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU={max(256, mem_mb // (4 * cpus))}
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 NodeHostname={host} CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN
PartitionName={PARTITION} Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""
    )
    return conf


def _munge_answers() -> bool:
    if not shutil.which("munge"):
        return False
    cred = subprocess.run(["munge", "-n"], capture_output=True, check=False)
    return (
        cred.returncode == 0
        and subprocess.run(["unmunge"], input=cred.stdout, capture_output=True, check=False).returncode == 0
    )


def _start_munged(cluster: Cluster) -> None:
    if _munge_answers():
        return  # someone else's munged: use it, never stop it
    run_dir = Path("/run/munge")
    run_dir.mkdir(parents=True, exist_ok=True)
    for d in (run_dir, Path("/var/lib/munge"), Path("/var/log/munge")):
        d.mkdir(parents=True, exist_ok=True)
        shutil.chown(d, "munge", "munge")
    if not Path("/etc/munge/munge.key").exists():
        subprocess.run(["runuser", "-u", "munge", "--", "mungekey", "--create"], check=True)
    pidfile = run_dir / "munged.pid"
    pidfile.unlink(missing_ok=True)
    proc = subprocess.run(["runuser", "-u", "munge", "--", "munged"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ClusterError(f"munged did not start: {proc.stderr.strip()}")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (pidfile.exists() and pidfile.read_text().strip()):
        time.sleep(0.1)
    if not pidfile.exists():
        raise ClusterError("munged started but wrote no PID file")
    cluster.started.append(("munged", int(pidfile.read_text().split()[0])))
    if not _munge_answers():
        raise ClusterError("munged is running but munge/unmunge fail")


def _daemon(cluster: Cluster, name: str, args: list[str]) -> None:
    with open(cluster.folder / f"{name}.out", "w") as log:  # the daemon keeps its own copy of the fd
        proc = subprocess.Popen(args, env=cluster.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    cluster.started.append((name, proc))


def _wait_node_idle(cluster: Cluster, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        for name, proc in cluster.started:
            if not _alive(proc):
                out = cluster.folder / f"{name}.out"
                raise ClusterError(f"{name} exited: {out.read_text()[-2000:] if out.exists() else ''}")
        q = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%T"], env=cluster.env, capture_output=True, text=True, check=False
        )
        state = q.stdout.strip()
        if q.returncode == 0 and state.startswith("idle"):
            return
        time.sleep(0.5)
    raise ClusterError(
        f"the SLURM node did not become idle within {timeout:.0f} s (state {state!r}); "
        f"see {cluster.folder}/slurmctld.log and slurmd.log"
    )


def start(folder: Path, cpus: int | None = None, mem_mb: int | None = None) -> Cluster:
    """Install if needed, configure and start a one-node cluster; stop it with `Cluster.stop`."""
    if sys.platform != "linux":
        raise ClusterError("the test cluster runs on Linux only")
    if os.geteuid() != 0:
        raise ClusterError("starting munged, slurmctld and slurmd needs root")
    ensure_installed()
    cpus = cpus or os.cpu_count() or 1
    mem_mb = mem_mb or int(_memory_mb() * 0.8)
    folder.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(folder, write_conf(folder, cpus, mem_mb), cpus, mem_mb)
    try:
        _start_munged(cluster)
        _daemon(cluster, "slurmctld", ["slurmctld", "-D", "-i"])
        _daemon(cluster, "slurmd", ["slurmd", "-D", "-N", "localhost"])
        _wait_node_idle(cluster)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="slurm-"))
    cluster = start(folder)
    print(f"SLURM is up: export SLURM_CONF={cluster.conf}  (Ctrl-C stops it)", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
