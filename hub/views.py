"""Plain views of the hub: the health check, the icon."""

from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET

from hub import health


@never_cache
@require_GET
def healthz(request):
    """200 when the database and the broker answer, 503 when either does not."""
    healthy, report = health.status()
    return JsonResponse(report, status=200 if healthy else 503)


# A plain "C" on the admin's blue: browsers ask for /favicon.ico on every first page.
ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="6" fill="#417690"/>'
    '<text x="16" y="23" font-family="sans-serif" font-size="20" font-weight="bold" '
    'text-anchor="middle" fill="#fff">C</text></svg>'
)


@cache_control(max_age=86400, public=True)
@require_GET
def favicon(request):
    return HttpResponse(ICON, content_type="image/svg+xml")
