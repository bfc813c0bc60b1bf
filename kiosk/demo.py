"""Demo hall (filled in below)."""
import click


@click.command("demo")
def demo_command() -> None:
    """Load the demo hall."""
