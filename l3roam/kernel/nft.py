"""nftables through libnftables, in process (ctypes; no ``nft`` subprocess).

libnftables is the library the ``nft`` command is built on (Debian's
``libnftables1``, installed with ``nftables``).  Going through it in process
costs a parse and one netlink transaction per change; a ``nft`` process would
add a fork and exec to every roam.  The context is created on the caller's
thread, so it belongs to that thread's network namespace: ``NetlinkKernel``
creates it on its namespace thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json

from l3roam.errors import KernelError

NFT_CTX_DEFAULT = 0
NFT_CTX_OUTPUT_JSON = 1 << 4

_lib = None


def _load():
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("nftables") or "libnftables.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            raise KernelError("load libnftables", detail=f"{exc} (install nftables)") from None
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        _lib = lib
    return _lib


class Nft:
    """One libnftables context; ``run`` a command text, ``json`` for listings."""

    def __init__(self) -> None:
        lib = _load()
        self._ctx = lib.nft_ctx_new(NFT_CTX_DEFAULT)
        if not self._ctx:
            raise KernelError("nft_ctx_new", detail="libnftables gave no context")
        lib.nft_ctx_buffer_output(self._ctx)
        lib.nft_ctx_buffer_error(self._ctx)

    def run(self, commands: str, what: str = "nft") -> str:
        lib = _load()
        rc = lib.nft_run_cmd_from_buffer(self._ctx, commands.encode())
        out = (lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode()
        err = (lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode()
        if rc != 0:
            raise KernelError(what, detail=err.strip() or f"nft returned {rc}")
        return out

    def json(self, command: str, what: str = "nft list") -> list[dict]:
        lib = _load()
        lib.nft_ctx_output_set_flags(self._ctx, NFT_CTX_OUTPUT_JSON)
        try:
            out = self.run(command, what)
        finally:
            lib.nft_ctx_output_set_flags(self._ctx, 0)
        return json.loads(out or '{"nftables": []}').get("nftables", [])

    def close(self) -> None:
        if self._ctx:
            _load().nft_ctx_free(self._ctx)
            self._ctx = None
