"""Publishing a round as a Lightly datasource (local folder or S3), for Lightly's own tools."""
