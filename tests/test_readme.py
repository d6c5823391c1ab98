"""The README's example runs as written and prints what its comments say."""
import re
from pathlib import Path

import numpy as np


def test_readme_example_runs(capsys):
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"## A short example\s+```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)  # the project's own README, not user text
    out = capsys.readouterr().out
    assert "status='ok'" in out and "Comparison(" in out and "\nspike" in out
    orbit = namespace["orbit"]
    np.testing.assert_allclose(np.sort(orbit.x[:, 0]), [-(0.005 - 1e-8), 0.005 - 1e-8], rtol=1e-9)
    eta_c = float(namespace["ad"].analysis.critical_learning_rate(namespace["rms"], namespace["f1"], [0.0]))
    assert abs(eta_c - 2e-8) <= 1e-12 * 2e-8  # 2 eps / lambda
