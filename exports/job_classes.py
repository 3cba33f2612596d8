"""The job classes of the exports app: names only, so the handlers and receivers that match
them load without the services behind them."""

BUILD_JOB = "exports.build"
EXPIRE_JOB = "exports.expire"
