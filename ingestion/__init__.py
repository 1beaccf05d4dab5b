"""Ingestion: generic tables, MovieLens-100K and the multimodal sample into the graph, with embeddings."""
