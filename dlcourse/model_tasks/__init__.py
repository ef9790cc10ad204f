"""What an exercise's trained model must be and reach (the modules: docs/architecture.md)."""
