"""The notebook's side of the one way through: the notebook file, its ``naavre:`` tags, the
analysis (steps, variables, diagnostics), the versioned spec and the one split/merge rule.
Pure: no tornado, no JupyterLab, no process started.
"""
