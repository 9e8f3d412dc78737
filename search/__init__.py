"""Searchers behind one ask/tell protocol, the driver, and results (``nas.search``)."""
