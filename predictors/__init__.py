"""Scores over architectures: zero-cost proxies, DeepMAD entropy, learned surrogates (``nas.predictors``)."""
