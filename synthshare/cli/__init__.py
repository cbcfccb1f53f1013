"""The synthshare command line (typer). Heavy imports live inside commands so --help is instant."""
