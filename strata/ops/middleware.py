"""Trust X-Forwarded-For only when the request comes straight from a web host (nginx)."""

from django.conf import settings


class ForwardedForMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.trusted = frozenset(settings.STRATA_WEB_ADDRESSES)

    def __call__(self, request):
        meta = request.META
        forwarded = meta.get("HTTP_X_FORWARDED_FOR")
        if forwarded and meta.get("REMOTE_ADDR") in self.trusted:
            # nginx sets the header to $remote_addr (one value); take the last hop it added.
            meta["STRATA_PROXY_ADDR"] = meta["REMOTE_ADDR"]
            meta["REMOTE_ADDR"] = forwarded.rsplit(",", 1)[-1].strip()
        return self.get_response(request)
