"""Mirror the lake to Cloudflare R2 (or any S3-compatible store): `python -m loaders.r2 push|ls`.

Public API: `R2Settings.from_env()`, `push(lake, settings, ...) -> PushSummary`, `list_remote(...)`.
"""

from loaders.r2.mirror import PushSummary, list_remote, push
from loaders.r2.settings import R2ConfigError, R2Error, R2Settings

__all__ = ["PushSummary", "R2ConfigError", "R2Error", "R2Settings", "list_remote", "push"]
