"""Health endpoints (no auth: load balancers and orchestrators call them)."""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core.health import readiness


@never_cache
@require_GET
def healthz(request):
    """The process is alive and serving requests."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    """Every required component is reachable: 200, else 503; `down` names what is down."""
    report = readiness()
    return JsonResponse(report, status=200 if report["ready"] else 503)


def not_found(request, exception=None):
    """404 page: JSON under /api/, HTML elsewhere."""
    from django.shortcuts import render

    if request.path.startswith("/api/"):
        from apps.core.api.errors import error_response

        return error_response("not_found", f"There is no API endpoint at {request.path}.", 404)
    return render(request, "404.html", status=404)


def server_error(request):
    from django.shortcuts import render

    if request.path.startswith("/api/"):
        from apps.core.api.errors import error_response

        return error_response(
            "server_error", "Something went wrong on our side; it has been logged.", 500
        )
    return render(request, "500.html", status=500)
