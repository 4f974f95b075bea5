"""hotshare: share a board's uplink over a Wi-Fi access point.

One layer a folder; each imports only the layers below it (.importlinter):

- ``cli``: the only layer that composes the others (and ``tools``, small
  command lines for tests and the board).
- ``doctor``: facts, probes and checks for what breaks hotspots in the field.
- ``service``: the journal, undo, children, the facts read before planning,
  and the resident loop.
- ``system``: programs (one way to run them), files, nft, sysctl, managers.
- ``netlink``: rtnetlink and ctnetlink over raw sockets.
- ``plan``: the system model and the whole plan, rendered to files (pure).
- ``coexist``: other firewalls evaluated over model packets (pure).
- ``config``: the configuration file and command line, validated (pure).
- ``errors``: one error base, carrying the exit code.
"""

__version__ = "0.1.0"
