"""The machine a lesson runs on: device, seeds, run profile, GPU-only calls, progress bars and the
figure style (modules listed in docs/architecture.md). Nothing here imports another part of dlcourse."""
