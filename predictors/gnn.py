"""A small graph network predictor over an architecture's networkx op graph (own torch code).

Nodes are embedded from their label (one-hot over the labels seen in ``fit``) and their numeric
``feat``; three residual message-passing layers aggregate from predecessors and from successors
separately (a directed GCN, as in BRP-NAS); the readout is the mean over nodes, joined with the
zero-cost scores for encoding ``graph+zc``, into a two-layer head. An ensemble of 3 members with
their own seeds gives the mean and std. Full-batch Adam, 200 epochs, MSE on standardised targets.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nas.errors import NasError
from nas.predictors.encodings import Encoder
from nas.predictors.learned import PREDICTORS, Predictor


def _tensors(graphs: list[Any], vocab: dict[str, int], n_feat: int):
    import torch

    n_max = max(1, max(g.number_of_nodes() for g in graphs))
    B = len(graphs)
    X = torch.zeros(B, n_max, len(vocab) + 1 + n_feat)
    A = torch.zeros(B, n_max, n_max)
    mask = torch.zeros(B, n_max)
    for b, g in enumerate(graphs):
        nodes = list(g.nodes)
        index = {n: i for i, n in enumerate(nodes)}
        for i, n in enumerate(nodes):
            d = g.nodes[n]
            X[b, i, vocab.get(d["label"], len(vocab))] = 1.0
            feat = d.get("feat") or []
            for k, v in enumerate(feat[:n_feat]):
                X[b, i, len(vocab) + 1 + k] = float(v)
            mask[b, i] = 1.0
        for u, v in g.edges:
            A[b, index[v], index[u]] = 1.0  # row v gathers from its predecessor u
    return X, A, mask


def _net(d_in: int, d_zc: int, hidden: int = 64, layers: int = 3):
    import torch
    from torch import nn

    class GNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Linear(d_in, hidden)
            self.self_w = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers))
            self.fwd_w = nn.ModuleList(nn.Linear(hidden, hidden, bias=False) for _ in range(layers))
            self.bwd_w = nn.ModuleList(nn.Linear(hidden, hidden, bias=False) for _ in range(layers))
            self.head = nn.Sequential(nn.Linear(hidden + d_zc, hidden), nn.ReLU(), nn.Linear(hidden, 1))

        def forward(self, X, A, mask, zc):
            deg_in = A.sum(2, keepdim=True).clamp_min(1.0)
            deg_out = A.transpose(1, 2).sum(2, keepdim=True).clamp_min(1.0)
            h = torch.relu(self.embed(X)) * mask[..., None]
            for s, f, b in zip(self.self_w, self.fwd_w, self.bwd_w):
                m_f = (A @ h) / deg_in
                m_b = (A.transpose(1, 2) @ h) / deg_out
                h = (h + torch.relu(s(h) + f(m_f) + b(m_b))) * mask[..., None]
            pooled = h.sum(1) / mask.sum(1, keepdim=True).clamp_min(1.0)
            if zc is not None:
                pooled = torch.cat([pooled, zc], 1)
            return self.head(pooled).squeeze(1)

    return GNN()


@PREDICTORS.register("gnn")
class GraphNetwork(Predictor):
    """Directed message-passing network over ``view.graph(arch)``; encodings ``graph`` or ``graph+zc``."""

    name = "gnn"
    min_fit = 3
    default_encoding = "graph"
    members = 3

    def __init__(self, view, encoding: str | None = None, seed: int = 0, **options: Any) -> None:
        enc = encoding or self.default_encoding
        parts = [p.strip() for p in enc.split("+")]
        if parts[0] != "graph" or any(p != "zc" for p in parts[1:]):
            raise NasError(f"predictor 'gnn' takes encoding 'graph' or 'graph+zc', not {enc!r}")
        super().__init__(view, "graph", seed, **options)
        self.encoding = enc
        self.zc_encoder = Encoder(view, "zc") if "zc" in parts[1:] else None
        self.epochs = int(options.get("epochs", 200))

    def _zc(self, archs: list[Any], fit: bool):
        import torch

        if self.zc_encoder is None:
            return None
        Z = self.zc_encoder.fit_transform(archs) if fit else self.zc_encoder.transform(archs)
        if fit:
            self._z_mean, self._z_std = Z.mean(0), np.where(Z.std(0) > 0, Z.std(0), 1.0)
        return torch.as_tensor((Z - self._z_mean) / self._z_std, dtype=torch.float32)

    def _fit(self, archs: list[Any], y: np.ndarray) -> None:
        import torch

        graphs = [self.view.graph(a) for a in archs]
        labels = sorted({d["label"] for g in graphs for _, d in g.nodes(data=True)})
        self.vocab = {lab: i for i, lab in enumerate(labels)}
        self.n_feat = max((len(d.get("feat") or []) for g in graphs for _, d in g.nodes(data=True)), default=0)
        X, A, mask = _tensors(graphs, self.vocab, self.n_feat)
        Z = self._zc(archs, fit=True)
        t = torch.as_tensor(y, dtype=torch.float32)
        self.nets = []
        with torch.random.fork_rng(devices=[]):
            for k in range(self.members):
                torch.manual_seed(self.seed * 1000 + k)
                net = _net(X.shape[2], 0 if Z is None else Z.shape[1])
                opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
                for _ in range(self.epochs):
                    opt.zero_grad()
                    loss = torch.nn.functional.mse_loss(net(X, A, mask, Z), t)
                    loss.backward()
                    opt.step()
                net.eval()
                self.nets.append(net)

    def _predict(self, archs: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        X, A, mask = _tensors([self.view.graph(a) for a in archs], self.vocab, self.n_feat)
        Z = self._zc(archs, fit=False)
        with torch.no_grad():
            p = torch.stack([net(X, A, mask, Z) for net in self.nets]).numpy()
        return p.mean(0), p.std(0)
