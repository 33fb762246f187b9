"""The engine on a Ray Serve cluster: replicas each run the PipelineManager (deployment.py),
the studio host talks to them through RayEngine (client.py), which answers the same calls
as the local engine. Optional: needs `pip install -r pipelines/serve/requirements.txt`;
nothing here is imported unless the app runs with `--engine ray`."""
