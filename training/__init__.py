"""Claims history in, an evaluated and registered model out; and the `medspa-coverage` CLI."""
