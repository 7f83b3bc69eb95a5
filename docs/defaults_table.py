"""Write docs/reference/config.md, the table of TrainConfig's fields, their defaults and the presets, from the code.

    python docs/defaults_table.py           # `make docs` runs it first; tests/test_docs.py checks the page is current

Each field's description is its trailing comment in TrainConfig's source, the same text `gankit train --help` prints.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from gankit.cli import _field_comments
from gankit.config import PRESETS, TrainConfig

PAGE = Path(__file__).resolve().parent / "reference" / "config.md"
# The two kinds of data whose defaults differ: a toy set of points and an image set.
EXAMPLES = {"toy data (circle)": TrainConfig(dataset="circle"), "MNIST": TrainConfig(dataset="mnist")}

HEADER = """\
# Configuration: every field and its default

<!-- Written by `python docs/defaults_table.py` from gankit.config; edit the code, not this page. -->

`TrainConfig` is a typed dataclass. Every field is also a flag of `gankit train` and `gankit sweep` (`latent_dim` is
`--latent-dim`; widths are written `64,64`), a key of a `--config` JSON file, and a keyword of
`gankit.TrainConfig(...)`. A field declared with the default `None` takes a value that depends on the others (mostly on
whether the data set is points or images); the two columns on the right show what it becomes. The saved
`config.json` of a run always holds the concrete values.

"""


def cell(value: Any) -> str:
    """A value as it is written on the command line."""
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def render() -> str:
    comments = {name: text.replace("%%", "%") for name, text in _field_comments().items()}
    lines = [f"| field | declared default | {' | '.join(EXAMPLES)} | description |", "| --- | --- | --- | --- | --- |"]
    for field in dataclasses.fields(TrainConfig):
        values = " | ".join(f"`{cell(getattr(config, field.name))}`" for config in EXAMPLES.values())
        description = comments.get(field.name, "").replace("|", "\\|")
        lines.append(f"| `{field.name}` | `{cell(field.default)}` | {values} | {description} |")
    presets = ["| preset | fields it sets |", "| --- | --- |"]
    for name, values in PRESETS.items():
        presets.append(f"| `{name}` | {', '.join(f'`{key}={cell(value)}`' for key, value in values.items())} |")
    return (
        HEADER
        + "\n".join(lines)
        + "\n\n## Presets\n\n`--preset NAME` (`gankit.preset(NAME, **overrides)`) starts from these fields; the"
        " order of precedence is defaults < preset < `--config FILE` < flags.\n\n" + "\n".join(presets) + "\n"
    )


def main() -> None:
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(render())
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
