"""Start a local Label Studio server set up for the pipeline (`make labelstudio`).

Serves local files from the project folder, has one user and an API token from the environment
(or from a generated `.labelstudio/credentials.env`), and sends nothing home: version checks and
analytics are off, and it listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

TOKEN_ENV = "LABEL_STUDIO_API_KEY"


def server_env(data_dir: Path, document_root: Path, username: str, password: str, token: str) -> dict[str, str]:
    """Environment for `label-studio start`: local files, legacy token, nothing phoned home."""
    env = dict(os.environ)
    env.update(
        LABEL_STUDIO_BASE_DATA_DIR=str(data_dir),
        LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED="true",
        LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=str(document_root),
        LABEL_STUDIO_USERNAME=username,
        LABEL_STUDIO_PASSWORD=password,
        LABEL_STUDIO_USER_TOKEN=token,
        LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
        LABEL_STUDIO_LATEST_VERSION_CHECK="false",
        LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true",
        COLLECT_ANALYTICS="false",
        SENTRY_DSN="",
        FRONTEND_SENTRY_DSN="",
    )
    return env


def start(
    data_dir: Path,
    document_root: Path,
    port: int,
    username: str,
    password: str,
    token: str,
    log_file: Path,
) -> subprocess.Popen:
    """Start `label-studio` on 127.0.0.1:port in the background; wait with `wait_until_up`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    exe = Path(sys.executable).with_name("label-studio")
    cmd = [
        str(exe),
        "start",
        "--no-browser",
        "--internal-host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    out = open(log_file, "ab")  # noqa: SIM115 - handed to the child process
    return subprocess.Popen(
        cmd,
        env=server_env(data_dir, document_root, username, password, token),
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until_up(url: str, timeout_s: float = 180, proc: subprocess.Popen | None = None) -> None:
    """Wait for /health; the first start migrates a fresh database and takes about 30 s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"Label Studio exited with code {proc.returncode} before it was up")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"Label Studio at {url} was not up after {timeout_s:g} s")


def _credentials(path: Path) -> tuple[str, str, str]:
    """(username, password, token): from the environment, else from (or into) `path`."""
    saved: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith("export ") and "=" in line:
                key, value = line[len("export ") :].split("=", 1)
                saved[key] = value
    username = os.environ.get("LABEL_STUDIO_USERNAME") or saved.get("LABEL_STUDIO_USERNAME", "labeler@localhost")
    password = (
        os.environ.get("LABEL_STUDIO_PASSWORD") or saved.get("LABEL_STUDIO_PASSWORD") or secrets.token_urlsafe(12)
    )
    token = os.environ.get(TOKEN_ENV) or saved.get(TOKEN_ENV) or secrets.token_hex(20)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"export LABEL_STUDIO_USERNAME={username}\nexport LABEL_STUDIO_PASSWORD={password}\n"
        f"export {TOKEN_ENV}={token}\n"
    )
    path.chmod(0o600)
    return username, password, token


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--data-dir", type=Path, default=Path(".labelstudio/data"))
    parser.add_argument(
        "--document-root",
        type=Path,
        default=Path.cwd(),
        help="folder Label Studio may serve local files from (default: here)",
    )
    args = parser.parse_args(argv)
    creds = Path(".labelstudio/credentials.env")
    username, password, token = _credentials(creds)
    url = f"http://127.0.0.1:{args.port}"
    proc = start(
        args.data_dir.resolve(),
        args.document_root.resolve(),
        args.port,
        username,
        password,
        token,
        Path(".labelstudio/server.log"),
    )
    print(f"Starting Label Studio at {url} (log: .labelstudio/server.log) ...", flush=True)
    wait_until_up(url, proc=proc)
    print(
        f"Label Studio is up at {url}\n"
        f"  log in as {username}; password and API token are in {creds} (mode 600).\n"
        f"  Before running snakemake: source {creds}   (sets {TOKEN_ENV})\n"
        "  Stop with Ctrl-C.",
        flush=True,
    )
    # The server runs in its own session; stop it with us on Ctrl-C and on SIGTERM alike.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        proc.wait()
    except (KeyboardInterrupt, SystemExit):
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
