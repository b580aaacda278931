"""The model stage: the track / no-track classifier, its predictions and its validation figures.

`network` is the network and how it predicts, with torch alone; `inference` answers every image
of a scope with it (or with the condition, where the metadata decides); `classifier` trains it with
Lightning; `foci` measures the classical foci-and-line features it may read beside the image;
`predictions` writes and reads Lightly's prediction format and `metrics` computes the figures,
both without torch, for the stages that only read them.
"""
