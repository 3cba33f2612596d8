from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from jobs import events as job_events
from jobs import services
from jobs.api import openapi
from jobs.api.serializers import JobSerializer, JobSignalSerializer
from jobs.filters import JobFilterSet
from jobs.models import Job
from syncservice.events.api.views import AttachEventsMixin
from syncservice.jsonapi.errors import Conflict
from syncservice.jsonapi.views import JsonApiViewSet
from syncservice.openapi.operations import document_operations


@document_operations(destroy=openapi.DESTROY, signal=openapi.SIGNAL)
class JobViewSet(AttachEventsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                 mixins.DestroyModelMixin, JsonApiViewSet):
    queryset = Job.objects.all()
    serializer_class = JobSerializer
    filterset_class = JobFilterSet
    ordering_fields = ["id", "job_class", "queue", "priority", "status", "progress",
                       "retry_count", "scheduled_at", "started_at", "finished_at", "created_at",
                       "updated_at"]
    ordering = ["-created_at"]

    def get_serializer_class(self):
        if self.action == "signal":
            return JobSignalSerializer
        return JobSerializer

    def perform_destroy(self, instance: Job) -> None:
        try:
            services.delete(instance)
        except services.JobStateError as exc:
            raise Conflict(str(exc)) from exc

    @action(detail=True, methods=["post"])
    def signal(self, request, pk=None):
        """Send ``cancel`` (pending: at once; running: cooperatively), ``retry`` (failed or
        cancelled) or ``run_now`` (pending) to a job. Wrong state → 409."""
        job = self.get_object()
        signal = JobSignalSerializer(data=request.data)
        signal.is_valid(raise_exception=True)
        try:
            job = services.signal(job, signal.validated_data["signal"])
        except services.JobStateError as exc:
            raise Conflict(str(exc)) from exc
        job_events.signalled(job, signal.validated_data["signal"], request.auth.actor_id)
        self.resource_name = "jobs"  # the response is the job, not the signal
        data = JobSerializer(job, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_200_OK)
