"""Helpers every stage uses and none owns: placing files, progress lines, typed config values,
the accelerator check and a Lightning epoch logger.

Nothing here imports a pipeline stage, so any stage may import it.
"""
