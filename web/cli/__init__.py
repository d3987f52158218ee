"""The `kuanyue` command: parses input, calls the library, prints results (Chinese first).

One module per command group — `covenants` (covenant …, render; `reading` and `backgrounds`
add commands to its group), `catalogue` (catalogue …), `reels` (reel), `places` (village,
device), `programme` (playlist, schedule,
timeline), `announce` (announce, rota), `stream` (the village radio stream), `system` (doctor, serve, store) — each added to `main` here; what they share is in `common`. Modules import
only click and light library modules at the top, and the rest inside their commands, so
`kuanyue --help` stays instant.
"""

from __future__ import annotations

import click

from . import announce, catalogue, covenants, places, programme, reading, reels, stream, system
from . import backgrounds as backgrounds  # adds `covenant background` to the covenant group
from .bilingual import BilingualGroup
from .common import State


@click.group(cls=BilingualGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """款约 Kuanyue：村规民约的广播、字幕与视频 / village covenants narrated, subtitled and broadcast."""
    ctx.obj = State()


main.add_command(covenants.covenant)
main.add_command(covenants.render)
main.add_command(reading.read)
main.add_command(catalogue.catalogue)
main.add_command(reels.reel)
main.add_command(system.doctor)
main.add_command(system.serve)
main.add_command(system.store)
main.add_command(places.village)
main.add_command(places.device)
main.add_command(programme.playlist)
main.add_command(programme.schedule)
main.add_command(programme.timeline)
main.add_command(announce.announce)
main.add_command(announce.rota)
main.add_command(stream.stream)

__all__ = ["main"]
