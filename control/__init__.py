"""The control plane, above the data plane: phases (start, roll back), the experiment guard,
offsets and rewinds of consumer groups, and relabelling regimes."""
