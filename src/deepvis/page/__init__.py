"""What a notebook puts on the page of a write-up, shared by both exercises.

- `captions`: numbered figures and tables (``figure``, ``text_table``) and their references;
- `tables`: pandas tables as a grader reads them;
- `words`: English for the short phrases a code cell computes (lists, articles);
- `metrics`: ``report/metrics.json``, every headline number under a dotted key;
- `myst`: MyST's inline ``{eval}`` role in markdown cells: finding the expressions, storing
  their results the way jupyterlab-myst does, and substituting them into the write-ups.
"""
