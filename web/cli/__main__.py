"""`python -m web.cli …`, the same as `kuanyue …`."""

from web.cli import main

main(prog_name="kuanyue")
