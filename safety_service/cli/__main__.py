"""`python -m safety_service.cli ...`: the same as the `safety` console script."""
from . import main

main()
