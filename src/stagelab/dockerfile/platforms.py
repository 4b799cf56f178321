"""Build platforms and the platform ARGs BuildKit defines for every Dockerfile.

BuildKit gives FROM lines (and stages that declare them with ARG) the values of TARGETPLATFORM,
TARGETOS, TARGETARCH, TARGETVARIANT, BUILDPLATFORM, BUILDOS, BUILDARCH and BUILDVARIANT
(moby/buildkit frontend/dockerfile/dockerfile2llb/platform.go, `defaultArgs`); the classic
builder defines none of them (measured on Docker Engine 28.5: they expand to "").
"""

from __future__ import annotations

import platform as host

# What `uname -m` says, as the OCI platform's architecture (and variant).
_MACHINE_ARCHITECTURES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm/v7",
    "armv6l": "arm/v6",
    "i386": "386",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}
# containerd's normalisation (github.com/containerd/platforms): arm defaults to v7, arm64 to
# no variant.
_DEFAULT_VARIANTS = {"arm": "v7"}


def machine_platform() -> str:
    """Return this machine's own platform, `linux/<architecture>[/<variant>]`.

    A local engine (Docker Engine on Linux, Docker Desktop's VM) builds for it unless told
    otherwise, so it is the default where no engine is asked.
    """
    machine = host.machine().lower()
    return "linux/" + _MACHINE_ARCHITECTURES.get(machine, machine or "amd64")


def split_platform(text: str) -> tuple[str, str, str]:
    """Return (os, architecture, variant) of `os/arch[/variant]`, normalised as containerd does.

    Raises ValueError for text that is not of that form.
    """
    parts = text.strip().lower().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"platform must look like linux/amd64 or linux/arm/v7, not {text!r}")
    os_name, arch = parts[0], parts[1]
    arch = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64"}.get(arch, arch)
    variant = parts[2] if len(parts) == 3 else _DEFAULT_VARIANTS.get(arch, "")
    if arch == "arm64" and variant == "v8":
        variant = ""
    return os_name, arch, variant


def platform_args(target: str, build: str) -> dict[str, str]:
    """Return BuildKit's automatic platform ARGs for a build on `build` for `target`.

    Both are `os/arch[/variant]`; raises ValueError for another form.
    """
    args = {}
    for prefix, text in (("TARGET", target), ("BUILD", build)):
        os_name, arch, variant = split_platform(text)
        args[f"{prefix}PLATFORM"] = "/".join(p for p in (os_name, arch, variant) if p)
        args[f"{prefix}OS"] = os_name
        args[f"{prefix}ARCH"] = arch
        args[f"{prefix}VARIANT"] = variant
    return args
