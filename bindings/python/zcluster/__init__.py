"""zcluster: a Zeek-style cluster node as a library (ctypes bindings over libzcluster).

Names follow the Zeek reference: a script's `Cluster::local_node_type()` is
`Cluster.local_node_type()` here. See the repository's README and shared API.md.
"""

from ._lib import (  # noqa: F401
    ABI_VERSION,
    BadHandle,
    ClosedError,
    DecodeError,
    Error,
    InternalError,
    InvalidArgument,
    IOError_,
    LayoutError,
    NotFound,
    ProtocolError,
    StateError,
    StoreError,
    Timeout,
    TypeMismatch,
    WouldBlock,
    lib_path,
    version,
)

from ._endpoint import Endpoint, Message, MessageKind  # noqa: F401,E402
from ._data import (  # noqa: F401,E402
    Count,
    Enum,
    Event,
    FrozenTable,
    Port,
    Timespan,
    Timestamp,
    from_binary,
    from_json,
    to_binary,
    to_json,
    to_text,
)
from ._layout import Cluster, Layout, Node, NodeType, ZeroMQProxy, option_catalogue  # noqa: F401,E402
from ._store import Store, StoreInfo  # noqa: F401,E402  (also attaches Cluster.create_store)
from . import _log  # noqa: F401,E402  (attaches Cluster.create_log_stream, log_write, ...)

__version__ = version()
