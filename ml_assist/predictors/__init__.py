"""Predictors: pure functions of a volume (numpy in, masks and scores out), no Django."""
