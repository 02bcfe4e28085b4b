"""The kiosk host: pcscd and the reader driver, cage on tty1 running `kiosk run` as an
unprivileged user, its keys as systemd credentials, and nothing else on the screen."""

from __future__ import annotations

import argparse
import os
import shutil

from common import (
    choose_seal,
    credential,
    exec_line,
    existing_secret,
    install_packages,
    new_secret,
    package_names,
    program,
    system_user,
)
from plan import Command, File, Link, Plan, Target

USER = "hanpyo"
PREFIX = "/opt/hanpyo/kiosk"
DATA = "/var/lib/hanpyo/kiosk"
UNIT = "hanpyo-kiosk.service"
UNIT_PATH = f"/etc/systemd/system/{UNIT}"
USB_MOUNT = "/media/hanpyo"  # where the export stick appears; its mount unit is named after it
USB_UNIT = "media-hanpyo.mount"
KIOSK_KEY, STORE_KEY = "hanpyo-kiosk-key", "hanpyo-store-key"
LEAVE_FILE = "/run/hanpyo-kiosk/left"  # see kiosk_unit: the kiosk stays down while it exists

# Debian 12 names (Ubuntu 24.04: see package_names). pcscd + libccid: the card reader;
# cage: the one-application Wayland compositor (Debian's refuses to start without
# Xwayland, which it does not depend on); kbd: chvt; fonts-noto-cjk: Korean beside the font we
# ship; polkitd: the rule that lets the kiosk user reach pcscd; gcc, swig, libpcsclite-dev
# and python3-dev build pyscard; the rest are what Qt Quick loads on Wayland and libusb
# for USB receipt printers; libsodium23 does protocol v2's group arithmetic (pysodium).
PACKAGES = [
    "pcscd", "libccid", "cage", "xwayland", "kbd", "fonts-noto-cjk", "polkitd", "ca-certificates",
    "tzdata",
    "python3", "python3-venv", "python3-dev", "gcc", "swig", "libpcsclite-dev",
    "libgl1", "libegl1", "libxkbcommon0", "libfontconfig1", "libdbus-1-3", "libglib2.0-0",
    "libwayland-client0", "libwayland-cursor0", "libwayland-egl1", "libusb-1.0-0",
    "libsodium23",
]  # fmt: skip


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--authority", help="the election authority's public key (base64url)")
    p.add_argument("--name", help="the kiosk's name on the ledger (default: the host name)")
    p.add_argument("--location", default="", help="where the kiosk stands")
    p.add_argument("--ledger", help="the ledger's address: register the kiosk there")
    p.add_argument(
        "--admin-token-file",
        help="a file (mode 0600) holding an admin token of that ledger with the enrol scope "
        "(`ledger admin-token --scope enrol`), or - to read it from standard input",
    )
    # Refused with an explanation: a token on the command line is in every user's `ps` and in
    # the shell's history.
    p.add_argument("--admin-token", help=argparse.SUPPRESS)
    p.add_argument(
        "--late-reason",
        help="why the kiosk is registered after the election opened (the ledger requires it "
        "then, and publishes it)",
    )
    p.add_argument("--log-key", help="the ledger's checkpoint key; without it, no sync")
    p.add_argument("--reader", help="the card reader's PC/SC name (default: the first one)")
    p.add_argument(
        "--mirror",
        action="append",
        default=[],
        help="an observer's mirror the kiosk also proves its blocks from (repeatable)",
    )
    p.add_argument("--printer", default="none", help="none, usb:VID:PID, file:PATH, network:H")
    p.add_argument("--usb-label", default="HANPYO", help="file system label of export sticks")
    p.add_argument(
        "--timezone",
        default="Asia/Seoul",
        help="the time zone printed reports and the staff screen use (default: Asia/Seoul)",
    )


def kiosk_plan(args: argparse.Namespace, target: Target) -> tuple[Plan, bytes | None]:
    """The kiosk host's plan, and the kiosk key when this run creates or seals it."""
    plan = Plan("kiosk")
    install_packages(plan, package_names(PACKAGES, target))
    system_user(plan, USER, "Hanpyo voting kiosk", "/var/lib/hanpyo", ("lp",))
    # an uninstall needs no wheel: it removes what the record lists
    sources = () if args.uninstall else program(plan, PREFIX, "kiosk", args.wheel, args.wheelhouse)
    seal = choose_seal(args.tpm)
    kiosk_secret = existing_secret(target, KIOSK_KEY) or new_secret()
    store_secret = existing_secret(target, STORE_KEY) or new_secret()
    kiosk_path, load_kiosk = credential(plan, KIOSK_KEY, seal, kiosk_secret)
    store_path, load_store = credential(plan, STORE_KEY, seal, store_secret)
    plan.add(File("/etc/pam.d/hanpyo-kiosk", PAM.encode()))
    plan.add(File(UNIT_PATH, kiosk_unit(args, (load_kiosk, load_store)).encode()))
    plan.add(Link(f"/etc/systemd/system/graphical.target.wants/{UNIT}", UNIT_PATH))
    lock_down(plan)
    zone = args.timezone
    plan.add(
        Command(
            ("timedatectl", "set-timezone", zone),
            f"print local times in {zone}",
            key=f"timezone:{zone}",
            needed=lambda: os.path.realpath("/etc/localtime") != f"/usr/share/zoneinfo/{zone}",
        )
    )
    usb_stick(plan, args.usb_label)
    plan.add(File("/etc/polkit-1/rules.d/60-hanpyo-pcscd.rules", POLKIT.encode()))
    units = (UNIT_PATH, f"/etc/systemd/system/{USB_UNIT}", LOGIND)
    plan.add(Command(("systemctl", "daemon-reload"), "load the new units", after=units))
    if not args.no_start:
        plan.add(
            Command(
                ("systemctl", "restart", UNIT),
                "start the kiosk on tty1",
                after=(UNIT_PATH, kiosk_path, store_path, *sources),
            )
        )
    plan.uninstall_commands = [
        Command(("systemctl", "stop", UNIT), "stop the kiosk"),
        Command(("rm", "-rf", f"{PREFIX}/venv"), "remove the virtual environment"),
    ]
    plan.uninstall_after = [
        Command(("systemctl", "daemon-reload"), "forget the units"),
        Command(("userdel", USER), "remove the user (its files stay)"),
    ]
    known = seal == "none" or not target.path(kiosk_path).exists()
    return plan, kiosk_secret if known else None


def kiosk_unit(args: argparse.Namespace, credentials: tuple[str, str]) -> str:
    command = ["/usr/bin/cage", "-d", "--", f"{PREFIX}/venv/bin/kiosk", "run", "--data", DATA]
    command += ["--authority", args.authority, "--usb", USB_MOUNT, "--printer", args.printer]
    command += ["--leave-file", LEAVE_FILE]
    for option in ("ledger", "log_key", "reader"):
        if getattr(args, option):
            command += [f"--{option.replace('_', '-')}", getattr(args, option)]
    for mirror in args.mirror:
        command += ["--mirror", mirror]
    loads = "\n".join(credentials)
    return f"""\
# Hanpyo voting kiosk: cage, the one-application Wayland compositor, on tty1 running the
# kiosk as {USER}. cage leaves VT switching off unless given -s. Written by the installer.
[Unit]
Description=Hanpyo voting kiosk on tty1
After=systemd-user-sessions.service plymouth-quit-wait.service pcscd.socket
Wants=pcscd.socket
Conflicts=getty@tty1.service
After=getty@tty1.service
# a kiosk never gives up: no start limit
StartLimitIntervalSec=0

[Service]
User={USER}
# a logind session on seat0 gives cage the screen and the touch input
PAMName=hanpyo-kiosk
TTYPath=/dev/tty1
TTYReset=yes
TTYVHangup=yes
TTYVTDisallocate=yes
StandardInput=tty-fail
StandardOutput=journal
StandardError=journal
UtmpIdentifier=tty1
UtmpMode=user
StateDirectory=hanpyo/kiosk
StateDirectoryMode=0700
{loads}
Environment=QT_QPA_PLATFORM=wayland
# "Leave kiosk mode" on the staff screen writes {LEAVE_FILE} and exits. The restart that
# follows then stops here: a condition that fails (exit 1) skips the unit without failing
# it, and Restart=always does not restart a skipped unit. The check removes the file, so
# `systemctl start {UNIT}` or the next boot brings the kiosk back. (Debian 12's cage 0.1.4
# does not pass the kiosk's exit status on, so RestartPreventExitStatus= cannot tell.)
RuntimeDirectory=hanpyo-kiosk
RuntimeDirectoryPreserve=yes
ExecCondition=/bin/sh -c 'if [ -e {LEAVE_FILE} ]; then rm -f {LEAVE_FILE}; exit 1; fi'
ExecStartPre=+/usr/bin/chvt 1
ExecStart={exec_line(command)}
Restart=always
RestartSec=2

[Install]
WantedBy=graphical.target
"""


PAM = """\
# The kiosk's session on tty1 (hanpyo-kiosk.service). Written by the Hanpyo installer.
auth     required pam_permit.so
account  required pam_unix.so
session  required pam_unix.so
session  required pam_systemd.so
"""

POLKIT = f"""\
// The kiosk user may use pcscd and the cards in its readers even when its session is not
// the active one (e.g. while cage restarts). Written by the Hanpyo installer.
polkit.addRule(function (action, subject) {{
    if ((action.id == "org.debian.pcsc-lite.access_pcsc" ||
         action.id == "org.debian.pcsc-lite.access_card") &&
        subject.user == "{USER}") {{
        return polkit.Result.YES;
    }}
}});
"""

LOGIND = "/etc/systemd/logind.conf.d/hanpyo-kiosk.conf"


def lock_down(plan: Plan) -> None:
    """Nothing but the kiosk on the screen: no other terminals, no blanking, no SysRq."""
    plan.add(
        File(
            LOGIND,
            b"# No login terminals on other VTs; the kiosk holds tty1. Hanpyo installer.\n"
            b"[Login]\nNAutoVTs=0\nReserveVT=0\nIdleAction=ignore\n",
        )
    )
    for tty in range(1, 7):
        plan.add(Link(f"/etc/systemd/system/getty@tty{tty}.service", "/dev/null"))
    plan.add(Link("/etc/systemd/system/ctrl-alt-del.target", "/dev/null"))
    sysctl = "/etc/sysctl.d/60-hanpyo-kiosk.conf"
    plan.add(
        File(sysctl, b"# No magic SysRq keys on a kiosk. Hanpyo installer.\nkernel.sysrq = 0\n"),
        Command(("sysctl", "-p", sysctl), "apply the sysctl", after=(sysctl,)),
    )
    # cage keeps the VT in graphics mode, where the kernel never blanks; consoleblank=0
    # covers the seconds between two cage starts.
    grub = "/etc/default/grub.d/60-hanpyo-kiosk.cfg"
    plan.add(
        File(
            grub,
            b"# Never blank the console of a kiosk. Hanpyo installer.\n"
            b'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT consoleblank=0"\n',
        )
    )
    if shutil.which("update-grub"):
        plan.add(Command(("update-grub",), "apply consoleblank=0 at the next boot", after=(grub,)))


def usb_stick(plan: Plan, label: str) -> None:
    """Export sticks labelled ``label`` mount at USB_MOUNT for the kiosk user; nothing else
    mounts anything (udisks2 is masked)."""
    device = f"/dev/disk/by-label/{label}"
    plan.add(Link("/etc/systemd/system/udisks2.service", "/dev/null"))
    plan.add(
        File(
            f"/etc/systemd/system/{USB_UNIT}",
            f"""\
# The export USB stick, mounted for the kiosk while it is plugged in. Hanpyo installer.
[Unit]
Description=Hanpyo export USB stick
BindsTo={_device_unit(label)}
After={_device_unit(label)}

[Mount]
What={device}
Where={USB_MOUNT}
Type=vfat
Options=uid={USER},gid={USER},umask=077,flush,nosuid,nodev,noexec
""".encode(),
        )
    )
    rules = "/etc/udev/rules.d/70-hanpyo-usb.rules"
    plan.add(
        File(
            rules,
            f"""\
# Mount a stick labelled {label} at {USB_MOUNT} when it is plugged in. Hanpyo installer.
ACTION=="add", SUBSYSTEM=="block", ENV{{ID_FS_LABEL}}=="{label}", TAG+="systemd", \
ENV{{SYSTEMD_WANTS}}+="{USB_UNIT}"
""".encode(),
        ),
        Command(("udevadm", "control", "--reload"), "load the udev rule", after=(rules,)),
    )


def _device_unit(label: str) -> str:
    escaped = "".join(c if c.isalnum() or c in "_." else f"\\x{ord(c):02x}" for c in label)
    return f"dev-disk-by\\x2dlabel-{escaped}.device"
