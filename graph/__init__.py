"""Neo4j access, the managed local server and the on-disk snapshot format.

Kept import-free so that a machine without the `neo4j` driver can still load
snapshots (``graph.snapshot``) and the error types (``graph.errors``).
"""
