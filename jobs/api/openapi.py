"""What the jobs API's actions document beyond their views (``syncservice.openapi``)."""

from __future__ import annotations

from syncservice.openapi.operations import OperationSpec, Schema, link


def job_links(pointer: str) -> dict[str, Schema]:
    """Links to the job at ``pointer`` of a response (an export's or a run's job too)."""
    return {"GetJob": link("jobs_retrieve", "The job doing the work.", pointer),
            "SignalJob": link("jobs_signal", "Cancel, retry or run the job now.", pointer)}


DESTROY = OperationSpec(errors=(409,))
SIGNAL = OperationSpec(errors=(409,), example={"attributes": {"signal": "cancel"}},
                       links=lambda: job_links("/data/id"))
