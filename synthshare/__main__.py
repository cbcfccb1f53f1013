"""`python -m synthshare ...`, which is what `torchrun --nproc_per_node N -m synthshare ...` runs."""

from synthshare.cli.app import main

main()
