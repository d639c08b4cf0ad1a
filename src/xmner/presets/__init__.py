"""The experiment presets (``base.toml`` under each of ``offline``, ``paper``, ``smoke``).

Shipped inside the package so an installed wheel finds them; read them through
``xmner.pipelines.config`` (``load_experiment``, ``preset_text``), not by path.
"""
