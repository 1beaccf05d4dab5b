"""GNN compute on exported snapshots: data, models (DGL or PyG backend), training, evaluation, drift."""
