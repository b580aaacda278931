"""The embedding stage: a backbone trained self-supervised on the pool (SimCLR), and its
embeddings in Lightly's CSV layout.

`io` reads and writes the embeddings CSV without torch, so the stages after this one stay light;
`backbone` is the network shared with the classifier; `simclr` trains it.
"""

from bps_labeler.embeddings.io import embeddings_frame, read_embeddings, write_embeddings

__all__ = ["embeddings_frame", "read_embeddings", "write_embeddings"]
