"""Where a published Lightly datasource keeps its images, and the two folders Lightly is given.

The labeling stage reads this too (images served from a datasource), so it sits with the data,
ahead of publishing.
"""

from __future__ import annotations

#: Where the images go: the folder to set as Lightly's Input datasource.
INPUT_DIR = "data"


#: The folder to set as Lightly's Lightly datasource; `.lightly/` lives inside it.
LIGHTLY_DIR = "lightly"

#: The images given to people, for a Label Studio that reads them from S3 (outside Lightly's
#: Input datasource: the validation images must not become candidates for selection).
LABELING_DIR = "labeling"


def datasource_paths(uri: str) -> dict[str, str]:
    """The two URIs a user gives Lightly for a datasource published at `uri`."""
    base = uri.rstrip("/")
    return {"input_datasource": f"{base}/{INPUT_DIR}", "lightly_datasource": f"{base}/{LIGHTLY_DIR}"}
