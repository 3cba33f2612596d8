"""The job classes of the syncs app: names only, so the handlers that register them load
without the runner and services behind them."""

RUN_JOB = "syncs.run"
TASK_JOB = "syncs.run_task"
SWEEP_JOB = "syncs.sweep"
SCHEDULE_JOB = "syncs.schedule"
