"""Async client for the CrowdTwist loyalty API.

```python
import crowdtwist_async as ct

async with ct.Session(api_key="KEY", client_id=123) as session:
    async for reward in session.users.aiter_rewards("alice@example.com", id_type="email"):
        print(reward.title)
    coupons = await session.users.usable_coupons("alice@example.com", id_type="email")
    result = await session.users.redeem("alice@example.com", id_type="email", reward_id=64)
```
"""

from ._attempt import RateLimiter
from ._config import DEFAULT_TIMEOUT, Limits, Timeout
from ._converter import to_dict
from ._endpoints import Coupons, Rewards, Users
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CrowdTwistError,
    IncompleteListingError,
    ListingChangedError,
    NotFoundError,
    RateLimiterError,
    RateLimitError,
    RefusedError,
    ResponseDecodeError,
    ServerError,
    WriteNotConfirmedError,
)
from ._listing import ListingOptions
from ._models import (
    Activity,
    ActivityCredit,
    CouponResult,
    EligibilityType,
    FrequencyPeriod,
    IdType,
    IdTypeName,
    Partner,
    Points,
    Redemption,
    RedemptionResult,
    Reward,
    RewardsPage,
    Segment,
    Shipping,
    UsableCoupon,
    User,
)
from ._pagination import AsyncPaginator
from ._retry import Retries
from ._session import Session
from ._signing import CTApiV2Auth
from ._version import __version__

__all__ = [
    "DEFAULT_TIMEOUT",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "Activity",
    "ActivityCredit",
    "AsyncPaginator",
    "AuthenticationError",
    "BadRequestError",
    "CTApiV2Auth",
    "CouponResult",
    "Coupons",
    "CrowdTwistError",
    "EligibilityType",
    "FrequencyPeriod",
    "IdType",
    "IdTypeName",
    "IncompleteListingError",
    "Limits",
    "ListingChangedError",
    "ListingOptions",
    "NotFoundError",
    "Partner",
    "Points",
    "RateLimitError",
    "RateLimiter",
    "RateLimiterError",
    "Redemption",
    "RedemptionResult",
    "RefusedError",
    "ResponseDecodeError",
    "Retries",
    "Reward",
    "Rewards",
    "RewardsPage",
    "Segment",
    "ServerError",
    "Session",
    "Shipping",
    "Timeout",
    "UsableCoupon",
    "User",
    "Users",
    "WriteNotConfirmedError",
    "__version__",
    "to_dict",
]
