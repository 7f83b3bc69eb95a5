"""What the notebook's live view costs: the same training with and without it, interleaved, in a real kernel.

    python -m benchmarks.live_view [--steps 5000] [--repeats 3] [--dataset moons]

A Jupyter kernel (nbclient) trains the same GAN `repeats` times with the live view at its default refresh
(`live=None`: every 200 steps, at most 5% of the time) and as many times without it (`live=False`),
alternating, with the notebook progress bar in both. The time compared is the training loop's own clock
at the last logged step (the `seconds` of the metrics log), so the final evaluation and figures, the same
in both, are left out. Prints the medians, the overhead, the time the redraws themselves took (measured
inside the kernel: robust to other load on the machine, which makes the medians noisy) and the load.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

import nbformat
from nbclient import NotebookClient

CELL = """
import json, time, gankit, gankit.live
drawing = []  # seconds of each redraw, measured inside the kernel
draw = gankit.live.LiveView.draw
def timed(self, game):
    begun = time.perf_counter()
    draw(self, game)
    drawing.append(time.perf_counter() - begun)
gankit.live.LiveView.draw = timed
config = gankit.TrainConfig(dataset={dataset!r}, steps={steps}, eval_every={steps}, latent_dim=2)
seconds = {{"live": [], "off": [], "drawing": [], "draws": []}}
for repeat in range({repeats}):
    for mode in ("off", "live"):
        drawing.clear()
        run = gankit.train(config, figures=False, live=None if mode == "live" else False)
        seconds[mode].append(next(r["seconds"] for r in reversed(run.metrics) if "loss_d" in r))
        if mode == "live":
            seconds["drawing"].append(sum(drawing[:-1]))  # the last redraw comes after the training
            seconds["draws"].append(len(drawing))
print(json.dumps(seconds))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dataset", default="moons")
    args = parser.parse_args()
    load = os.getloadavg()
    source = CELL.format(dataset=args.dataset, steps=args.steps, repeats=args.repeats)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    with tempfile.TemporaryDirectory() as folder:
        client = NotebookClient(notebook, timeout=3600, kernel_name="python3", resources={"metadata": {"path": folder}})
        client.execute()
    (printed,) = [
        o["text"] for o in notebook.cells[0].outputs if o["output_type"] == "stream" and o["name"] == "stdout"
    ]
    seconds = json.loads(printed.strip().splitlines()[-1])
    median = {mode: sorted(values)[len(values) // 2] for mode, values in seconds.items()}
    print(f"{args.dataset}, {args.steps} steps, {args.repeats} interleaved repeats each, in a Jupyter kernel")
    for mode in ("off", "live"):
        values = seconds[mode]
        print(f"  {mode:>4}: {', '.join(f'{v:.2f}' for v in values)} s  (median {median[mode]:.2f} s)")
    print(f"  live view overhead, medians: {100 * (median['live'] / median['off'] - 1):+.1f}% of the training time")
    shares = [d / (t - d) for d, t in zip(seconds["drawing"], seconds["live"])]
    print(
        f"  time spent drawing: {', '.join(f'{100 * s:.1f}%' for s in shares)} of the rest of the training "
        f"({', '.join(map(str, seconds['draws']))} redraws)"
    )
    print(f"  load average before: {load[0]:.2f}, after: {os.getloadavg()[0]:.2f} (2 cores)")


if __name__ == "__main__":
    main()
