"""Creation functions and queries: recorded, never differentiated."""
from .registry import nondiff

nondiff("zeros", "ones", "full", "empty", "zeros_like", "ones_like", "full_like", "empty_like",
        "eye", "arange", "linspace", "argsort", "nonzero", "searchsorted", "isin",
        "unique_all", "unique_counts", "unique_inverse", "unique_values", "from_dlpack")
