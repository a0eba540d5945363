"""`python -m service` runs the `medspa-coverage` command group."""
import os

# Before anything loads OpenMP, which reads it once: training's pool sleeps rather than spins while
# it waits, since a spinning pool collapses when another process holds a core (the Makefile sets
# the same for every command).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from service.cli import main  # noqa: E402

main()
