"""Shared test setup: everything offline, on the CPU, in a temp data directory."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Shared fixtures (tiny engine models; Gen Space store and image folder), registered once.
pytest_plugins = ["tests.engine_entries", "tests.gen_space_factory"]
