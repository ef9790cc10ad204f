"""The interactive demos, one module per demo on a shared base (modules listed in docs/architecture.md)."""
