"""Standard cells: mapping, switching activity, the Liberty reader, the energy model, OpenSTA, the energy report."""
