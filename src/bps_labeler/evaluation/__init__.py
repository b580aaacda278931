"""Figures beside their baselines: what the condition alone and the majority class score, every
round's figures in one learning-curve table, and the per-condition readout (`readout`): the
share of nuclei with a track, corrected for the model's mistakes.
"""

from bps_labeler.evaluation.baselines import majority_class, with_baselines
from bps_labeler.evaluation.learning_curve import learning_curve

__all__ = ["learning_curve", "majority_class", "with_baselines"]
