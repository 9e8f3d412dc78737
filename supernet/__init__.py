"""Weight-sharing supernets built from a space (``nas.supernet``)."""
