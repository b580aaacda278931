"""A set's images in S3 for a Label Studio that shares no disk with the run.

The labeling job puts the images people are given under `<datasource>/labeling/` (the round's
picks are in the datasource already, the validation images are not, and Lightly's Input
datasource must stay the training pool), through the datasource's own publisher (whole objects,
never public, uploaded again only when they changed; the job calls it, as publishing is a later
stage than labeling).
"""

from __future__ import annotations

from bps_labeler.data.datasource_layout import LABELING_DIR
from bps_labeler.data.s3 import S3Location, is_s3_uri
from bps_labeler.errors import InputError


def labeling_images(images: str, datasource: dict) -> S3Location | None:
    """Where Label Studio reads a run's images to label: `<datasource>/labeling` on S3 when
    `annotation.labelstudio.images` is `s3`, or `auto` with an S3 datasource; None for local files."""
    uri = str(datasource["uri"])
    on_s3 = is_s3_uri(uri)
    if images == "s3" and not on_s3:
        raise InputError(
            f"annotation.labelstudio.images is 's3' but datasource.uri is {uri!r}: set datasource.uri to "
            "s3://bucket/prefix (the run puts the images people label under its labeling/ folder), or images: local."
        )
    if images == "local" or not on_s3:
        return None
    return S3Location.from_uri(
        f"{uri.rstrip('/')}/{LABELING_DIR}",
        endpoint_url=datasource.get("endpoint_url"),
        region=datasource.get("region", "us-west-2"),
        anonymous=False,  # presigning and uploading need the job's keys
    )
