"""A simulated cellular network between a board and the lab's internet.

    board  ppp0 ──(MTU 1400)── isp0  modem (ns)  core0 ──(1500)── core0  internet (ns)

The modem namespace routes between the board's link and the internet and,
as many LTE networks do, drops the ICMP "fragmentation needed" it should
send when a 1500-byte packet does not fit the smaller link: the server's
TCP never learns the path MTU and full-size segments vanish (a PMTU black
hole). The board's link has the smaller MTU, as pppd or a QMI modem sets it;
only MSS clamping on the board (or DHCP option 26 on the clients) helps.
"""

from __future__ import annotations

from lab.netns import Netns, add_veth

CORE_MODEM, CORE_INET = "172.31.255.1", "172.31.255.2"
# what the internet routes back to the modem: the board's addresses, CGNAT's included
BOARD_NETS = ("10.0.0.0/8", "100.64.0.0/10", "192.168.0.0/16")

BLACK_HOLE = """
table inet modem {
	chain output {
		type filter hook output priority filter; policy accept;
		icmp type destination-unreachable icmp code frag-needed drop
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		icmp type destination-unreachable icmp code frag-needed drop
	}
}
"""

# The data session is gone: nothing is forwarded or answered (DNS at the gateway included).
DEAD_SESSION = """
table inet dead {
	chain input { type filter hook input priority -10; policy drop; }
	chain forward { type filter hook forward priority -10; policy drop; }
}
"""


class Modem:
    """The modem namespace of one uplink: ``mtu`` on the board's side."""

    def __init__(self, ns: Netns, mtu: int) -> None:
        self.ns, self.mtu = ns, mtu

    def create(self, inet: Netns) -> Netns:
        """The namespace, its link to the internet and its routes; the board's link comes with attach()."""
        ns = self.ns.create()
        add_veth("core0", ns, "core0", inet, addr=f"{CORE_MODEM}/30", peer_addr=f"{CORE_INET}/30")
        ns.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        ns.ip("route", "add", "default", "via", CORE_INET)
        for net in BOARD_NETS:
            inet.ip("route", "add", net, "via", CORE_MODEM)
        ns.run(["nft", "-f", "-"], input=BLACK_HOLE)
        return ns

    def data(self, on: bool) -> None:
        """The data session dies (``on`` False) or comes back: the carrier
        drops every packet it should route or answer, while the board's
        link, its address and its route all stay up (what pppd's LCP echo
        to the modem cannot see)."""
        if on:
            self.ns.run(["nft", "delete", "table", "inet", "dead"], check=False)
        else:
            self.ns.run(["nft", "-f", "-"], input=DEAD_SESSION)

    def attach(self, board: Netns, board_if: str, modem_if: str) -> None:
        """The board's link (made by the caller, in this namespace at the far end) gets the modem's MTU."""
        board.ip("link", "set", board_if, "mtu", str(self.mtu))
        self.ns.ip("link", "set", modem_if, "mtu", str(self.mtu))


def create_ap_rules(board: Netns, phone: Netns, ap: str = "lan0", net: str = "192.168.12") -> None:
    """create_ap's NAT, loaded by hand (iptables-nft), for the side-by-side:
    the AP's address, forwarding, its MASQUERADE and FORWARD accepts, and a
    phone with a static address (create_ap's dnsmasq adds nothing to the path)."""
    board.ip("addr", "add", f"{net}.1/24", "dev", ap)
    board.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
    for rule in (["-t", "nat", "-A", "POSTROUTING", "-s", f"{net}.0/24", "!", "-o", ap, "-j", "MASQUERADE"],
                 ["-I", "FORWARD", "-i", ap, "-s", f"{net}.0/24", "-j", "ACCEPT"],
                 ["-I", "FORWARD", "!", "-i", ap, "-d", f"{net}.0/24", "-j", "ACCEPT"]):
        board.run(["iptables-nft", "-w", *rule])
    phone.ip("-4", "addr", "flush", "dev", "eth0")
    phone.ip("addr", "add", f"{net}.10/24", "dev", "eth0")
    phone.ip("route", "replace", "default", "via", f"{net}.1")
