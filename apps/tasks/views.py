"""Inbox web pages."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    """The signed-in user's inbox landing page."""
    groups = request.user.groups.order_by("name").values_list("name", flat=True)
    return render(request, "inbox/home.html", {"groups": list(groups)})
