"""The people who label, on a Label Studio server (`bps-labeler labelers`).

A lab labels together: each person logs in as themselves, so that the export says who labeled
what and their agreement can be measured (`annotation.labelstudio.overlap`). Label Studio's
open-source API cannot set a password, and a password chosen for someone else would have to
travel to them; so people get the server's invite link and sign up with a password of their
own (`--invite`). Without `--invite` this lists the accounts with their ids, the numbers that
name labelers in the export and in annotation_report.json.

    bps-labeler labelers --url URL --invite
    bps-labeler labelers --url URL

The API token is read from $LABEL_STUDIO_API_KEY (`--token-env` names another variable), as the
pipeline reads it.
"""

from __future__ import annotations

import argparse
import sys

from bps_labeler.errors import exit_status
from bps_labeler.labeling.labelstudio import ONCE, Server, connect
from bps_labeler.labeling.labelstudio_server import TOKEN_ENV


def accounts(server: Server) -> dict[int, str]:
    """{account id: e-mail} of the server's accounts."""
    users = server.call(lambda: list(server.client.users.list(request_options=ONCE)))
    return {int(u.id): str(u.email or u.username) for u in users}


def invite_link(server: Server) -> str:
    """The organization's sign-up link: whoever opens it gets an account of their own."""
    http = server.client._client_wrapper.httpx_client  # the SDK has no method for this endpoint
    response = server.call(lambda: http.request("api/invite", method="GET", request_options=ONCE))
    response.raise_for_status()
    return f"{server.url}{response.json()['invite_url']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the Label Studio server")
    parser.add_argument("--token-env", default=TOKEN_ENV, help="the variable holding the API token")
    parser.add_argument("--invite", action="store_true", help="print the invite link to send to the labelers")
    args = parser.parse_args(argv)

    def run() -> None:
        server = connect(args.url, args.token_env)
        if args.invite:
            print(
                "Send this link to the labelers; each signs up with an e-mail address and a password of "
                f"their own:\n{invite_link(server)}"
            )
            return
        for uid, email in sorted(accounts(server).items()):
            print(f"{uid}\t{email}")

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())
