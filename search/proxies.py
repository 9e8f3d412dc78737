"""Moved to ``nas.predictors.proxies`` (the computations) and ``nas.predictors.proxy_cache`` (the cache);
re-exported here for existing importers."""

from nas.predictors.proxies import PROXIES
from nas.predictors.proxy_cache import CACHE_ENV, CachedProxies, CachedProxy, default_cache_dir, make_proxy

__all__ = ["CACHE_ENV", "PROXIES", "CachedProxies", "CachedProxy", "default_cache_dir", "make_proxy"]
