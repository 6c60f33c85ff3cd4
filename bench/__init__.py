"""`python -m bench`: how a report's cost grows with the cluster, against its own queries."""
