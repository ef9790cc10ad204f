"""The environment every lesson sets up first: where tensors live (:mod:`~dlcourse.env.device`:
``cuda``, then ``mps``, then ``cpu``), reproducible numbers (:mod:`~dlcourse.env.seeding`), whether we
run in Google Colab (:mod:`~dlcourse.env.colab`), progress bars that work in JupyterLab and in logs
(:mod:`~dlcourse.env.progress`), and the course's plotting style and figure checks
(:mod:`~dlcourse.env.plotting`), the run profile that sizes every lesson for this machine
(:mod:`~dlcourse.env.profile`: ``quick`` on a CPU, ``full`` on a GPU) and the few calls that only mean
something on a GPU (:mod:`~dlcourse.env.accelerator`: timing, memory and out-of-memory recovery, pinned
memory, TF32, mixed precision, the ``torch.compile`` backend). Nothing here teaches deep learning;
everything else may use it.
"""
