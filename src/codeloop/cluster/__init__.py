"""codeloop on a Ray cluster: sandbox hosts on the nodes, a session directory, Serve replicas.

Imported only when asked for (`--ray ADDRESS`, `serve run codeloop.cluster.serve:app`): the
single-machine server never imports ray.
"""
