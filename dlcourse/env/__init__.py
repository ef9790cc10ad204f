"""The machine a lesson runs on: device, seeds, run profile, GPU-only calls, progress bars.
Nothing here imports another part of dlcourse (docs/architecture.md lists the modules)."""
