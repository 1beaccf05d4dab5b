"""Topic discovery, pure compute (numpy + scikit-learn; no Neo4j).

`text` tokenises (words; character bigrams for CJK) and names topics by class-based TF-IDF,
`cluster` finds two-level topic hierarchies (k-means over embeddings, LDA over text),
`communities` groups topics on a co-occurrence graph (networkx Louvain, the GDS fallback),
`metrics` scores topics against given labels (AMI, purity).
"""
