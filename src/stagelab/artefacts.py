"""Look at the files a build exported: which CPU a program is for, from its ELF header."""

from __future__ import annotations

import os
from pathlib import Path

# e_machine values of the ELF specification (System V ABI, "Machine Information"), as
# `file` names them.
MACHINES = {
    0x03: "i386",
    0x08: "mips",
    0x14: "powerpc",
    0x15: "ppc64",
    0x16: "s390x",
    0x28: "arm",
    0x3E: "x86-64",
    0xB7: "aarch64",
    0xF3: "riscv",
}


def elf_machine(path: str | os.PathLike) -> str:
    """Return the CPU a program file is for, from its ELF header: "x86-64", "aarch64", ...

    Reads the first 20 bytes only. Raises ValueError for a file that is not an ELF program,
    FileNotFoundError for no file.
    """
    header = Path(path).read_bytes()[:20]
    if header[:4] != b"\x7fELF" or len(header) < 20:
        raise ValueError(f"{path} is not an ELF program (a Linux binary)")
    order = "little" if header[5] == 1 else "big"
    machine = int.from_bytes(header[18:20], order)
    return MACHINES.get(machine, f"machine {machine:#x}")
