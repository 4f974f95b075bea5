"""hotshare: share a board's uplink over a Wi-Fi access point.

The package is layered so each layer can be read and tested on its own:

- ``config``: parse and validate create_ap-style configuration (pure).
- ``plan`` and ``render``: turn a config plus a snapshot of the system into
  plain data and generated files (pure).
- ``rtnl``, ``netcfg``, ``nft``, ``sysctl``, ``daemons``: apply a plan.
- ``service``: supervise it, event-driven, until told to stop.
"""

__version__ = "0.1.0"
