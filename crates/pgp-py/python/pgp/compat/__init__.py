"""Stand-ins for pygeoprocessing and taskgraph: change one import, keep the script.

    import pgp.compat.pygeoprocessing as pygeoprocessing
    import pgp.compat.taskgraph as taskgraph

Calls keep pygeoprocessing's signatures and results. CPU-bound functions also take
``executor=``; where a script gives none, the ``PGP_EXECUTOR`` environment variable (a spec
such as ``threading:4``) applies, so an unchanged script runs in parallel.
"""
