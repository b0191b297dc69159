"""``tracebus samples generate``: write the sample world's platform files and master data, or check them.

See :mod:`ops.sampledata.generate` for what is written where. Exit codes: 0
written (or, with ``--check``, up to date), 1 the committed files differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from streams.settings import OPS_DIR


@click.group()
def samples() -> None:
    """The sample world (ops/sampledata): its platform exports and master data."""


@samples.command("generate")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=OPS_DIR,
    show_default=True,
    help="Write samples/platforms/… and masterdata/… under this directory (with --check: compare with it).",
)
@click.option("--check", is_flag=True, help="Generate into a temporary directory and report what differs from --out.")
def generate_command(out: Path, check: bool) -> None:
    """Build the sample world and write every platform's export, the expected merges and the master data."""
    from ops.sampledata.generate import check as check_samples
    from ops.sampledata.generate import generate

    def note(message: str) -> None:
        click.echo(message, err=True)

    if check:
        found = check_samples(out, note=note)
        for line in found:
            click.echo(line)
        if found:
            click.echo(f"{len(found)} file(s) differ: run `tracebus samples generate --out {out}`", err=True)
            sys.exit(1)
        click.echo(f"the samples under {out} are up to date")
        return
    generated = generate(out, note=note)
    for department, files in generated.platforms.items():
        click.echo(f"{department}: {len(files)} file(s)")
    click.echo(f"wrote {len(generated.files)} file(s) under {out}")
