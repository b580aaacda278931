"""Start a local Label Studio server set up for the pipeline (`make labelstudio`).

Serves local files from the project folder, has one user and an API token from the environment
(or from a generated `.labelstudio/credentials.env`), and sends nothing home: version checks and
analytics are off. It listens on 127.0.0.1 unless `--host` says otherwise: a lab's server binds
where its HTTPS proxy reaches it (docs/labeling.md, "A lab's server"), and says what that exposes.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from bps_labeler.errors import InputError

TOKEN_ENV = "LABEL_STUDIO_API_KEY"


def server_env(
    data_dir: Path,
    document_root: Path,
    username: str,
    password: str,
    token: str,
    public_url: str | None = None,
    private_storage: bool = False,
) -> dict[str, str]:
    """Environment for `label-studio start`: local files, legacy token, nothing phoned home.

    Behind a proxy, `public_url` is what people open: Label Studio builds its links from it, and
    Django accepts logins posted over HTTPS only from a trusted origin. Label Studio refuses
    storages on private and loopback addresses (its SSRF protection); `private_storage` lifts
    that for an S3 endpoint on this machine or the lab's network (MinIO, a test server).
    """
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
    if public_url:
        env.update(proxy_env(public_url))
    if private_storage:
        env["USE_DEFAULT_BANNED_SUBNETS"] = "false"
    return env


def proxy_env(public_url: str) -> dict[str, str]:
    """What Label Studio needs behind a proxy: the address its links use, and that address as
    the origin Django accepts logins from."""
    parts = urllib.parse.urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"--public-url {public_url!r}: give the address people open, e.g. https://ls.example.org")
    return {
        "LABEL_STUDIO_HOST": public_url.rstrip("/"),
        "LABEL_STUDIO_CSRF_TRUSTED_ORIGINS": f"{parts.scheme}://{parts.netloc}",
    }


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host` (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to any interface


def exposure(host: str, port: int) -> str:
    """What binding to `host` opens, said before the server starts; empty for loopback."""
    if is_loopback(host):
        return ""
    where = "every network interface of this machine" if host in ("0.0.0.0", "::") else host
    return (
        f"Label Studio will listen on {where}, port {port}: anyone who can reach it can try to log in, "
        "and it speaks plain HTTP (passwords and the API token unencrypted). Put it behind your site's "
        "HTTPS proxy or firewall, or keep the default 127.0.0.1 and reach it through an SSH tunnel "
        "(docs/labeling.md)."
    )


def start(
    data_dir: Path,
    document_root: Path,
    port: int,
    username: str,
    password: str,
    token: str,
    log_file: Path,
    host: str = "127.0.0.1",
    public_url: str | None = None,
    private_storage: bool = False,
) -> subprocess.Popen:
    """Start `label-studio` on host:port in the background; wait with `wait_until_up`.

    `public_url` is the address people's browsers use when it differs (an HTTPS proxy in front):
    Label Studio builds its links from it.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    exe = Path(sys.executable).with_name("label-studio")
    cmd = [
        str(exe),
        "start",
        "--no-browser",
        "--internal-host",
        host,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    env = server_env(data_dir, document_root, username, password, token, public_url, private_storage)
    out = open(log_file, "ab")  # noqa: SIM115 - handed to the child process
    return subprocess.Popen(
        cmd,
        env=env,
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
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every interface)",
    )
    parser.add_argument(
        "--public-url",
        help="the address people open when a proxy is in front, e.g. https://labelstudio.example.org",
    )
    parser.add_argument(
        "--private-storage",
        action="store_true",
        help="allow an S3 endpoint on a private or loopback address (MinIO on the lab's network); "
        "Label Studio refuses them by default",
    )
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
    if args.public_url:
        try:
            proxy_env(args.public_url)
        except InputError as err:
            parser.error(str(err))
    warning = exposure(args.host, args.port)
    if warning:
        print(f"WARNING: {warning}", file=sys.stderr, flush=True)
    local = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    url = f"http://{'[' + local + ']' if ':' in local else local}:{args.port}"
    proc = start(
        args.data_dir.resolve(),
        args.document_root.resolve(),
        args.port,
        username,
        password,
        token,
        Path(".labelstudio/server.log"),
        host=args.host,
        public_url=args.public_url,
        private_storage=args.private_storage,
    )
    print(f"Starting Label Studio at {url} (log: .labelstudio/server.log) ...", flush=True)
    wait_until_up(url, proc=proc)
    print(
        f"Label Studio is up at {url}" + (f" (people open {args.public_url})" if args.public_url else "") + "\n"
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
