"""The report: one self-contained HTML page, and a notebook that reproduces the runs."""
