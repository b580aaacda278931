"""The model stage: the track / no-track classifier, its predictions and its validation figures.

`classifier` (torch and Lightning) trains and predicts; `foci` measures the classical foci-and-line
features it may use beside the image; `predictions` writes and reads Lightly's prediction format
and `metrics` computes the figures, both without torch, for the stages that only read them.
"""
