"""`python -m service` runs the `medspa-coverage` command group."""
from service.cli import main

main()
