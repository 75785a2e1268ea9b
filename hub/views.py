"""Plain views of the hub: the health check."""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from hub import health


@never_cache
@require_GET
def healthz(request):
    """200 when the database and the broker answer, 503 when either does not."""
    healthy, report = health.status()
    return JsonResponse(report, status=200 if healthy else 503)
