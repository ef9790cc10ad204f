"""Stand-in for Colab's ``google.colab`` (tests/fake_colab/README.md): its presence in
``sys.modules`` is how the course's setup cell detects Colab."""
