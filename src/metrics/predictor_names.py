"""The logged names of the predictor's measurements (src/metrics/predictor.py), apart from its maths so that
the analysis reads them without importing torch: a study's report runs in the sweep's main process, which
imports torch for nothing else (about 1 s)."""

import re

ALIGNMENT = "predictor/alignment"  # mean |cos| of W's top-k eigenvectors with F's
EIGENVALUE = re.compile(r"predictor/eig(\d+)$")  # the top k eigenvalues of W's symmetric part
