"""system: everything that touches the system outside netlink: programs, files, nft, sysctl, managers."""
