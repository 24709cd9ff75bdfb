"""IR files as products of the flow (``model.ir.npz``, ``hardware.ir.npz``)."""
from ..errors import HwgenError
from .cache import Unusable

__all__ = ["read_ir"]


def read_ir(meta_key: str, *, digest_required: bool = True):
    """A :class:`~hwgen.flow.cache.Product` reader of IR files: the graph and its
    ``meta[meta_key]`` (its key). An IR of another version is said to be written by another
    hwgen; any other error, that the file is damaged."""
    def read(path):
        from ..ir import IRVersionError, load_ir
        try:
            graph = load_ir(path, digest_required=digest_required)
        except IRVersionError:
            raise Unusable(path, "was written by another hwgen (another IR version)") from None
        except HwgenError as error:
            raise Unusable.damaged(error, path) from None
        return graph.meta.get(meta_key), graph
    return read
