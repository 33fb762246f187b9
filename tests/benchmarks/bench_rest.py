"""What a REST dialect costs on top of the studio's own Gradio API, in one run.

Launches `python app.py` with a tiny local SD 1.5 in the user catalog, then runs the
same one-image job (same model, size, steps, seed) through gradio_client `/generate`,
webuiapi `txt2img` and openai `images.generate(b64_json)`, in turns after a warm-up,
and prints each median with its ratio to the Gradio API. Run by hand:

    python -m tests.benchmarks.bench_rest [--repeats 7] [--steps 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()

    import openai
    import webuiapi
    from gradio_client import Client

    from tests.api_fixtures import TINY, data_dir_with_tiny_model
    from tests.launched_app import launched_app

    root = Path(tempfile.mkdtemp(prefix="bench-rest-"))
    data = data_dir_with_tiny_model(root)
    with launched_app(data, "--starting-credits", "100000") as url:
        ui = Client(url, verbose=False)
        a1111 = webuiapi.WebUIApi(baseurl=f"{url}sdapi/v1", steps=args.steps)
        oai = openai.OpenAI(base_url=f"{url}v1", api_key="x", max_retries=0)
        runs = {
            "gradio_client /generate": lambda: ui.predict(TINY, "auto", "1:1", 1, "a red boat", False, "", 7, api_name="/generate"),
            "webuiapi txt2img": lambda: a1111.txt2img(prompt="a red boat", seed=7, width=64, height=64,
                                                      override_settings={"sd_model_checkpoint": TINY}),
            "openai images.generate": lambda: oai.images.generate(model=TINY, prompt="a red boat", size="64x64",
                                                                  response_format="b64_json", extra_body={"seed": 7}),
        }
        for run in runs.values():  # warm-up: the model loads once
            run()
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                times[name].append((time.perf_counter() - start) * 1000)
    base = statistics.median(times["gradio_client /generate"])
    print(f"# REST dialects vs the Gradio API (tiny SD 1.5, 64x64, {args.steps} catalog steps, 1 image, CPU)")
    print(f"repeats: {args.repeats} after a warm-up, in turns; median ms [min - max]")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:26s} {median:8.1f} [{min(values):.1f} - {max(values):.1f}]  ratio to Gradio API {median / base:.2f}")


if __name__ == "__main__":
    main()
